"""ClaimWorkflow: a co-op claim from draft to payment.

draft (activity) -> the GM confirms (Update, claim.confirm), reminded before the claim window
closes -> HQ decides (Update) -> approved -> payment recorded (Update, claim.pay) -> paid.
Rejected or expired (the window closed before the claim was confirmed and decided) end it.
Every transition is projected to the Claim row with its audit event by one idempotent activity
before the Update returns.

HQ's decision goes through `_hq_decision`, the one seam where the shared approval chain
(ChainRunner) takes over: until then a brand reviewer's (or admin's) vote decides, which is the
built-in one-stage "claims" chain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.policy import Permission, Target, allows, principal_of
    from domain.money import ClaimState
    from domain.roles import Role, ScopeType
    from models.claim_io import (
        ClaimConfirm,
        ClaimDecision,
        ClaimInput,
        ClaimPayment,
        ClaimStatus,
        ClaimTransition,
    )
    from models.workflow_io import ActorRef

S = ClaimState
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
# Reminders to the GM this long before the window closes (only those still ahead).
REMIND_BEFORE = (timedelta(days=14), timedelta(days=2))
DECIDERS = frozenset({Role.brand_reviewer, Role.brand_admin})
FINAL = frozenset({S.paid, S.rejected, S.expired})


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
        self.decision: ClaimDecision | None = None
        self.payment_reference = ""
        self.lock = asyncio.Lock()

    @workflow.run
    async def run(self, inp: ClaimInput) -> str:
        await workflow.execute_activity(
            "draft_claim",
            inp.claim_id,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RETRY,
        )
        async with self.lock:
            await self._project("drafted", S.draft, None, None)
        self.drafted = True
        if not await self._until_confirmed():
            return await self._expire("the claim window closed before the GM confirmed")
        outcome = await self._hq_decision()
        if outcome is None:
            return await self._expire("the claim window closed before HQ decided")
        if outcome.decision == "reject":
            return self.state
        await workflow.wait_condition(lambda: self.state == S.paid)
        return self.state

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
        return await self._until(closes, confirmed)

    async def _hq_decision(self) -> ClaimDecision | None:
        """The seam for the shared approval chain: HQ's decision, or None when the window
        closed first."""
        if await self._until(self.inp.window_closes_at, lambda: self.decision is not None):
            return self.decision
        return None

    async def _expire(self, why: str) -> str:
        async with self.lock:
            if self.state in (S.draft, S.pending_approval):
                await self._project("expired", S.expired, None, why)
        return self.state

    # Updates -----------------------------------------------------------------------------------

    @workflow.update
    async def confirm(self, action: ClaimConfirm) -> ClaimStatus:
        async with self.lock:
            if self.state == S.draft:
                self.confirmed_by = action.actor.user_id
                await self._project("confirmed", S.pending_approval, action.actor, action.comment)
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
    async def decide(self, action: ClaimDecision) -> ClaimStatus:
        async with self.lock:
            if self.state == S.pending_approval and self.decision is None:
                to = S.approved if action.decision == "approve" else S.rejected
                event = "approved" if to == S.approved else "rejected"
                await self._project(event, to, action.actor, action.comment)
                self.decision = action
        return self.status()

    @decide.validator
    def _check_decide(self, action: ClaimDecision) -> None:
        if not may_decide(action.actor, self.inp.brand_id):
            raise _refuse("only HQ's brand reviewers decide claims", "forbidden")
        if self.state != S.pending_approval or self.decision is not None:
            raise _refuse(f"the claim is {self.state}: it awaits no decision", "conflict")

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


def may_decide(actor: ActorRef, brand_id: int) -> bool:
    """HQ decides claims: a brand-wide reviewer or admin of the claim's brand."""
    principal = principal_of(actor)
    return principal.brand_id == brand_id and any(
        g.scope == ScopeType.brand and g.role in DECIDERS and g.brand_id == brand_id
        for g in principal.grants
    )
