"""ClaimWorkflow: a co-op claim from draft to payment.

draft (activity) -> the GM confirms (Update, claim.confirm), reminded before the claim window
closes -> HQ's approval chain (the shared ChainRunner: the brand policy CLAIM_APPROVAL_POLICY
names, else any brand reviewer) -> approved -> payment recorded (Update, claim.pay) -> paid.
Changes requested send the claim back to the GM as a draft; rejected or expired (the window
closed before the claim was confirmed and decided) end it. Every state change is projected to
the Claim row with its audit event by one idempotent activity; the chain audits its own steps
(`claim.submitted`, `claim.vote`, `claim.approved`, ...), so the workflow's projection of a
chain outcome is `claim.state_changed`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from approvals.engine import Outcome
    from core.policy import Permission, Target, allows, principal_of
    from domain.money import ChainSubject, ClaimState
    from models.chain_io import ChainDecision, ChainStatus, ChainTarget
    from models.claim_io import (
        ClaimChainInput,
        ClaimConfirm,
        ClaimInput,
        ClaimPayment,
        ClaimReminder,
        ClaimStatus,
        ClaimTransition,
    )
    from models.workflow_io import ActorRef
    from workflows.chain_runner import ChainRunner

S = ClaimState
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
NOTICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5), maximum_attempts=8
)
# Reminders to the GM this long before the window closes (only those still ahead).
REMIND_BEFORE = (timedelta(days=14), timedelta(days=2))
# What the chain's outcome makes of the claim.
AFTER_CHAIN = {
    Outcome.approved: S.approved,
    Outcome.rejected: S.rejected,
    Outcome.expired: S.expired,
    Outcome.changes_requested: S.draft,
}


def _refuse(message: str, kind: str, field: str = "") -> ApplicationError:
    errors = [{"field": field, "message": message}] if field else []
    return ApplicationError(message, {"kind": kind, "errors": errors}, type=kind)


@workflow.defn
class ClaimWorkflow:
    @workflow.init
    def __init__(self, inp: ClaimInput) -> None:
        self.inp = inp
        self.target = Target(inp.brand_id, inp.region_id, inp.partner_id)
        self.state = S.draft
        self.seq = 0
        self.drafted = False
        self.confirmed_by: int | None = None
        self.payment_reference = ""
        self.deciding: ChainDecision | None = None
        self.lock = asyncio.Lock()
        self.chain = ChainRunner(
            ChainSubject.claim,
            inp.claim_id,
            ChainTarget(brand_id=inp.brand_id, region_id=inp.region_id, partner_id=inp.partner_id),
            f"claim {inp.claim_id}",
            portal_path=f"/claims/{inp.claim_id}",
        )

    @workflow.run
    async def run(self, inp: ClaimInput) -> str:
        await workflow.execute_activity(
            "draft_claim",
            inp.claim_id,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RETRY,
        )
        self.drafted = True  # the activity wrote the draft and its audit event
        while True:
            if not await self._until_confirmed():
                return await self._expire("the claim window closed before the GM confirmed")
            self.deciding = None
            outcome = await self._hq_decision()
            to = AFTER_CHAIN.get(outcome, S.expired)
            by = self.deciding
            comment = (by.comment if by else None) or f"HQ's chain: {outcome.value}"
            async with self.lock:
                await self._project("state_changed", to, by.actor if by else None, comment)
            if to != S.draft:
                break
        if self.state == S.approved:
            await workflow.wait_condition(lambda: self.state == S.paid)
        return self.state.value

    # Waiting -----------------------------------------------------------------------------------

    async def _until(self, when: datetime, done: Callable[[], bool]) -> bool:
        """True when `done()` held before `when`."""
        delay = (when - workflow.now()).total_seconds()
        if delay <= 0:
            return done()
        try:
            await workflow.wait_condition(done, timeout=timedelta(seconds=delay))
        except TimeoutError:
            return done()
        return True

    async def _until_confirmed(self) -> bool:
        closes = self.inp.window_closes_at

        def confirmed() -> bool:
            return self.state != S.draft

        for before in REMIND_BEFORE:
            remind_at = closes - before
            if remind_at <= workflow.now():
                continue
            if await self._until(remind_at, confirmed):
                return True
            async with self.lock:
                if self.state == S.draft:
                    days = before.days
                    await self._project(
                        "reminded", S.draft, None, f"the claim window closes in {days} days"
                    )
                    await self._email_gms(days)
        return await self._until(closes, confirmed)

    async def _email_gms(self, days: int) -> None:
        """The reminder by email; one that cannot be sent is logged, the claim goes on."""
        try:
            await workflow.execute_activity(
                "remind_claim_gm",
                ClaimReminder(claim_id=self.inp.claim_id, days=days),
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=NOTICE_RETRY,
            )
        except ActivityError as err:
            workflow.logger.warning("claim reminder not sent: %s", err)

    async def _hq_decision(self) -> Outcome:
        """HQ's approval chain, pinned when the GM confirms, ending at the window's close at
        the latest."""
        given: ClaimChainInput = await workflow.execute_activity(
            "claim_chain_input",
            self.inp.claim_id,
            result_type=ClaimChainInput,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        return await self.chain.run(
            given.policy, given.facts, self.confirmed_by, expire_at=self.inp.window_closes_at
        )

    async def _expire(self, why: str) -> str:
        async with self.lock:
            if self.state in (S.draft, S.pending_approval):
                await self._project("expired", S.expired, None, why)
        return self.state.value

    # Updates -----------------------------------------------------------------------------------

    @workflow.update
    async def confirm(self, action: ClaimConfirm) -> ClaimStatus:
        """Answered once HQ's chain has projected its waiting stage, so a decision sent right
        after the answer finds the stage it decides."""
        async with self.lock:
            if self.state != S.draft:
                return self.status()
            self.confirmed_by = action.actor.user_id
            before = self.chain.events
            await self._project("confirmed", S.pending_approval, action.actor, action.comment)
        await workflow.wait_condition(
            lambda: self.chain.events > before or self.state != S.pending_approval
        )
        async with self.chain.lock:  # the chain's first projection is written
            pass
        return self.status()

    @confirm.validator
    def _check_confirm(self, action: ClaimConfirm) -> None:
        if not allows(principal_of(action.actor), Permission.claim_confirm, self.target):
            raise _refuse("only the partner's GM confirms its claims", "forbidden")
        if not self.drafted:
            raise _refuse("the claim is still being drafted; try again in a moment", "conflict")
        if self.state != S.draft:
            raise _refuse(f"the claim is {self.state}: it was confirmed already", "conflict")

    @workflow.update
    async def decide(self, action: ChainDecision) -> ChainStatus:
        """A vote in HQ's chain; when it ends the chain, answered once the claim moved."""
        status = await self.chain.decide(action)
        if status.outcome is not None:
            self.deciding = action  # the projection names who ended the chain, and why
            await workflow.wait_condition(lambda: self.state != S.pending_approval)
        return status

    @decide.validator
    def _check_decide(self, action: ChainDecision) -> None:
        self.chain.refusal(action)

    @workflow.update
    async def record_payment(self, action: ClaimPayment) -> ClaimStatus:
        async with self.lock:
            if self.state == S.approved:
                self.payment_reference = action.reference
                await self._project("paid", S.paid, action.actor, None, action.reference)
        return self.status()

    @record_payment.validator
    def _check_payment(self, action: ClaimPayment) -> None:
        if not allows(principal_of(action.actor), Permission.claim_pay, self.target):
            raise _refuse("your roles do not allow claim.pay", "forbidden")
        if self.state != S.approved:
            raise _refuse(f"the claim is {self.state}: only approved claims are paid", "conflict")
        if not action.reference.strip():
            raise _refuse("a payment reference is required", "invalid", "reference")

    @workflow.query
    def status(self) -> ClaimStatus:
        return ClaimStatus(
            claim_id=self.inp.claim_id,
            state=self.state.value,
            confirmed_by=self.confirmed_by,
            payment_reference=self.payment_reference,
        )

    @workflow.query
    def chain_status(self) -> ChainStatus:
        return self.chain.status()

    # Projection --------------------------------------------------------------------------------

    async def _project(
        self,
        event: str,
        to: ClaimState,
        actor: ActorRef | None,
        comment: str | None,
        reference: str = "",
    ) -> None:
        info = workflow.info()
        self.seq += 1
        await workflow.execute_activity(
            "project_claim",
            ClaimTransition(
                claim_id=self.inp.claim_id,
                seq=self.seq,
                event=event,
                from_state=self.state.value,
                to_state=to.value,
                at=workflow.now(),
                actor_id=actor.user_id if actor else None,
                comment=comment,
                payment_reference=reference,
                workflow_id=info.workflow_id,
                run_id=info.run_id,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        self.state = to
        workflow.set_current_details(f"{to.value} (after {event})")
