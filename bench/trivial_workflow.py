"""A trivial workflow run in the sandbox, as every workflow of the project is (a module of its
own: the sandbox re-imports a workflow's module, which a benchmark run as __main__ is not)."""

from __future__ import annotations

from temporalio import workflow


@workflow.defn(name="BenchSandboxedTrivial")
class SandboxedTrivial:
    """Returns at once: its first task costs the worker what any workflow's first task costs
    it, the sandbox included."""

    @workflow.run
    async def run(self, n: int) -> int:
        return n
