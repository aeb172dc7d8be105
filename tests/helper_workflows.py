"""Workflows used only by tests. Kept in a module of their own: the sandbox re-imports a
workflow's module, which must not pull in settings, engines or table models."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from approvals.facts import ApprovalFacts
    from approvals.policy import PinnedPolicy
    from domain.money import ChainSubject
    from models.chain_io import ChainDecision, ChainStatus, ChainTarget
    from models.workflow_io import AuditReceipt, AuditRecord
    from workflows.chain_runner import ChainRunner


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


class ChainProbeInput(BaseModel):
    subject_id: int
    target: ChainTarget
    policy: PinnedPolicy
    facts: ApprovalFacts
    submitted_by: int | None = None
    expire_after: int | None = Field(None, description="seconds: a hard deadline")
    resubmit: bool = Field(False, description="run the chain again after changes requested")


@workflow.defn
class ChainProbeWorkflow:
    """Embeds ChainRunner exactly as a print order or claim workflow does (docs/funds.md)."""

    @workflow.init
    def __init__(self, inp: ChainProbeInput) -> None:
        self.chain = ChainRunner(
            ChainSubject.print_order, inp.subject_id, inp.target, f"print order {inp.subject_id}"
        )

    @workflow.run
    async def run(self, inp: ChainProbeInput) -> list[str]:
        expire_at = None
        if inp.expire_after is not None:
            expire_at = workflow.now() + timedelta(seconds=inp.expire_after)
        outcomes = [
            await self.chain.run(inp.policy, inp.facts, inp.submitted_by, expire_at=expire_at)
        ]
        if inp.resubmit and outcomes[0] == "changes_requested":
            outcomes.append(await self.chain.run(inp.policy, inp.facts, inp.submitted_by))
        return [o.value for o in outcomes] + (["withdrawn"] if self.chain.withdrawn else [])

    @workflow.update
    async def decide(self, action: ChainDecision) -> ChainStatus:
        return await self.chain.decide(action)

    @decide.validator
    def _validate_decide(self, action: ChainDecision) -> None:
        self.chain.refusal(action)

    @workflow.signal
    def cancel(self, by: int) -> None:
        self.chain.withdraw(by, "cancelled by the partner")

    @workflow.query
    def status(self) -> ChainStatus:
        return self.chain.status()
