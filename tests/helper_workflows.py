"""Workflows used only by tests. Kept in a module of their own: the sandbox re-imports a
workflow's module, which must not pull in settings, engines or table models."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.workflow_io import AuditReceipt, AuditRecord


@workflow.defn
class AuditTwiceWorkflow:
    """Appends the same event twice: the second append must be a no-op."""

    @workflow.run
    async def run(self, record: AuditRecord) -> list[AuditReceipt]:
        out = []
        for _ in range(2):
            out.append(
                await workflow.execute_activity(
                    "append_audit_event",
                    record,
                    result_type=AuditReceipt,
                    start_to_close_timeout=timedelta(seconds=30),
                )
            )
        return out
