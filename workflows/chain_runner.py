"""ChainRunner: the approval chain a print order or claim workflow embeds, so every object
that needs approval runs the same engine (approvals.engine) the same way partner campaigns do.

A plain deterministic object the workflow holds: `run` starts the chain at its first applicable
stage and waits on durable timers (the stage's SLA: remind, escalate, approve, reject, expire)
and on decisions; `refusal` (the Update validator) and `decide` (the Update handler) take
decisions. Every step is projected by the activity `project_chain_task`: the ChainTask row the
API and inbox read, and one audit event, in one transaction. The embedding workflow:

    self.chain = ChainRunner(ChainSubject.print_order, order_id, target, "print order 12")
    outcome = await self.chain.run(policy, facts, submitted_by)

    @workflow.update
    async def decide(self, action: ChainDecision) -> ChainStatus:
        return await self.chain.decide(action)

    @decide.validator
    def _validate_decide(self, action: ChainDecision) -> None:
        self.chain.refusal(action)
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from approvals import engine
    from approvals.engine import Chain, Outcome
    from approvals.facts import ApprovalFacts
    from approvals.policy import PinnedPolicy, TimeoutAction
    from approvals.views import Decision
    from core.policy import Permission, Target, allows, principal_of
    from domain.money import ChainSubject
    from models.chain_io import (
        ChainDecision,
        ChainNotice,
        ChainStatus,
        ChainTarget,
        ChainTaskProjection,
    )

PROJECTION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
NOTICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5), maximum_attempts=8
)
# Outcomes that end the chain (the others leave a stage waiting).
FINAL = frozenset({Outcome.approved, Outcome.rejected, Outcome.changes_requested, Outcome.expired})
# The permission that lets someone see the subject at all (else: not found, as elsewhere).
READ = {
    ChainSubject.print_order: Permission.print_order_read,
    ChainSubject.claim: Permission.claim_read,
    ChainSubject.journey_activation: Permission.journey_read,
}


def refuse(message: str, kind: str, errors: list[dict[str, str]] | None = None) -> ApplicationError:
    """A refusal services.workflow_updates maps to its HTTP problem (`kind` says which)."""
    return ApplicationError(message, {"kind": kind, "errors": errors or []}, type=kind)


class ChainRunner:
    """One object's approval chain inside its workflow (state is plain, replay-safe data)."""

    def __init__(
        self,
        subject: ChainSubject,
        subject_id: int,
        target: ChainTarget,
        label: str,
        *,
        portal_path: str = "",
    ) -> None:
        """`label` names the object in audit comments, refusals and emails ("print order 12");
        `portal_path` is where approvers decide it (the emails link there; default the inbox)."""
        self.subject = subject
        self.subject_id = subject_id
        self.target = target
        self.label = label
        self.portal_path = portal_path
        self.submitted_by: int | None = None
        self.notices: list[ChainNotice] = []  # sent by `run`'s loop, never by a handler
        self.chain: Chain | None = None
        self.outcome: Outcome | None = None
        self.closing = False  # projecting the outcome: the task closes
        self.events = 0  # projected events: numbers the audit keys
        self.changes = 0  # bumps on every decision or timeout: wakes the waiting loop
        self.lock = asyncio.Lock()
        self.deciding = 0  # decide() calls in flight
        self.withdrawal: tuple[int | None, str] | None = None  # asked for, not yet projected
        self.withdrawn = False

    # Running -----------------------------------------------------------------------------------

    async def run(
        self,
        policy: PinnedPolicy,
        facts: ApprovalFacts,
        submitted_by: int | None,
        *,
        expire_at: datetime | None = None,
    ) -> Outcome:
        """Start (or, after changes were requested, restart) the chain and wait until it ends:
        approved, rejected, changes_requested or expired (`expire_at`: a hard deadline on top
        of the stages' own timeouts). A chain with no applicable stage is approved at once."""
        async with self.lock:  # no decision before the task it decides is projected
            now = workflow.now()
            if self.chain is None:
                self.chain = engine.begin(policy, facts, submitted_by, now)
            else:
                self.chain = engine.restart(self.chain, facts, submitted_by, now)
            self.outcome = None
            self.withdrawn = False
            self.submitted_by = submitted_by
            if self.chain.done:
                skipped = ", ".join(self.chain.skipped)
                note = "no approval required" + (f": {skipped} did not apply" if skipped else "")
                await self._project("approved", None, note)
                self.outcome = Outcome.approved
                return self.outcome
            await self._project("submitted", submitted_by, None)
            self._notify("approval_pending")
        while self.outcome is None:
            if self.withdrawal is not None:
                await self._withdraw(*self.withdrawal)
                continue
            if self.notices:
                await self._send_notices()
                continue
            due = engine.next_timeout(self.chain)
            when, index = due if due is not None else (None, None)
            if expire_at is not None and (when is None or expire_at <= when):
                when, index = expire_at, None
            if await self._wait_until(when):
                if index is None:
                    await self._expire("no decision before the deadline")
                else:
                    await self._stage_timeout(index)
        self.notices.clear()  # news about a chain that has ended is moot
        # Decisions in flight (the one that ended the chain, any refused after it) answer their
        # callers before the workflow moves on (and perhaps ends).
        await workflow.wait_condition(lambda: self.deciding == 0)
        return self.outcome

    async def _wait_until(self, when: datetime | None) -> bool:
        """True when `when` came; False when a decision changed the chain first."""
        seen = self.changes
        if when is None:
            await workflow.wait_condition(lambda: self.changes != seen or bool(self.notices))
            return False
        delay = (when - workflow.now()).total_seconds()
        if delay <= 0:
            return True
        try:
            await workflow.wait_condition(
                lambda: self.changes != seen or bool(self.notices),
                timeout=timedelta(seconds=delay),
            )
        except TimeoutError:
            return True
        return False

    def withdraw(self, actor_id: int | None, comment: str) -> None:
        """End the waiting chain without a decision (the object was cancelled): `run` closes
        the task, audits "<subject>.withdrawn" and returns expired, with `withdrawn` set.
        Synchronous, so a signal or update handler may call it; nothing when nothing waits."""
        if self.outcome is None and self.chain is not None and not self.chain.done:
            self.withdrawal = (actor_id, comment)
            self.changes += 1

    async def _withdraw(self, actor_id: int | None, comment: str) -> None:
        async with self.lock:
            self.withdrawal = None
            if self.outcome is None:
                self.closing = True
                await self._project("withdrawn", actor_id, comment)
                self.closing = False
                self.withdrawn = True
                self.outcome = Outcome.expired
                self.changes += 1

    async def _expire(self, note: str) -> None:
        async with self.lock:
            if self.outcome is None:
                await self._finish(Outcome.expired, None, note, None)

    async def _stage_timeout(self, index: int) -> None:
        """The stage's SLA ran out (each timeout once). Under the lock, so a decision in
        flight finishes first; if it moved the chain on, this timeout does nothing."""
        assert self.chain is not None and self.chain.current is not None
        planned = (self.chain.current.index, self.chain.current.started_at)
        async with self.lock:
            current = self.chain.current
            if self.outcome is not None or current is None:
                return
            if (current.index, current.started_at) != planned:
                return
            stage = current.label
            timeout = self.chain.policy.spec.stages[current.index].timeouts[index]
            self.chain, outcome = engine.fire(self.chain, index, workflow.now())
            self.changes += 1
            if outcome == Outcome.reminded:
                await self._project("reminded", None, f"{stage}: approval reminder", current.name)
                self._notify("reminder")
            elif outcome == Outcome.escalated:
                added = ", ".join(a.label() for a in timeout.to)
                await self._project(
                    "escalated", None, f"{stage}: escalated to {added}", current.name
                )
                self._notify("escalated")
            elif outcome == Outcome.advanced:
                await self._project("advanced", None, f"{stage}: approved by timeout", current.name)
                self._notify("approval_pending")
            else:
                await self._finish(
                    outcome, None, f"{stage}: {outcome.value} by timeout", current.name
                )

    # Decisions ---------------------------------------------------------------------------------

    def _target(self) -> Target:
        return Target(self.target.brand_id, self.target.region_id, self.target.partner_id)

    def refusal(self, action: ChainDecision) -> Decision:
        """Raise why `action` may not be taken now (the Update validator calls this); the
        decision it may take otherwise. Someone who cannot see the object gets not_found."""
        principal = principal_of(action.actor)
        if principal.brand_id != self.target.brand_id or not allows(
            principal, READ[self.subject], self._target()
        ):
            raise refuse(f"{self.label} not found", "not_found")
        try:
            decision = Decision(action.decision)
        except ValueError:
            message = "must be approve, request_changes or reject"
            raise refuse(
                f"decision: {message}", "invalid", [{"field": "decision", "message": message}]
            ) from None
        if self.chain is None or self.chain.done or self.outcome is not None or self.withdrawal:
            raise refuse(f"Nothing about {self.label} waits for a decision", "conflict")
        on_behalf = principal_of(action.on_behalf_of) if action.on_behalf_of else None
        refused = engine.refusal(self.chain, principal, self._target(), on_behalf_of=on_behalf)
        if refused is not None:
            raise refuse(refused, "forbidden")
        if decision != Decision.approve and not (action.comment or "").strip():
            message = "say what must change or why it is rejected"
            raise refuse(
                f"comment: {message}", "invalid", [{"field": "comment", "message": message}]
            )
        return decision

    async def decide(self, action: ChainDecision) -> ChainStatus:
        """Record a decision (the Update handler calls this). Re-checked under the lock:
        another decision or a timeout may have moved the chain since the validator ran."""
        self.deciding += 1
        try:
            return await self._decide(action)
        finally:
            self.deciding -= 1

    async def _decide(self, action: ChainDecision) -> ChainStatus:
        async with self.lock:
            decision = self.refusal(action)
            assert self.chain is not None and self.chain.current is not None
            stage = self.chain.current
            counted = action.on_behalf_of.user_id if action.on_behalf_of else action.actor.user_id
            self.chain, outcome = engine.vote(
                self.chain, decision, counted, action.actor.user_id, workflow.now()
            )
            self.changes += 1
            behalf = counted if counted != action.actor.user_id else None
            if outcome in FINAL:
                await self._finish(
                    outcome, action.actor.user_id, action.comment, stage.name, behalf
                )
            else:
                event = "vote" if outcome == Outcome.counted else "advanced"
                await self._project(event, action.actor.user_id, action.comment, stage.name, behalf)
                if outcome == Outcome.advanced:
                    self._notify("approval_pending")
        return self.status()

    async def _finish(
        self,
        outcome: Outcome,
        actor_id: int | None,
        comment: str | None,
        stage: str | None,
        on_behalf_of: int | None = None,
    ) -> None:
        self.closing = True  # the projection closes the task
        await self._project(outcome.value, actor_id, comment, stage, on_behalf_of)
        self.closing = False
        self.outcome = outcome  # only now: `run` returns, and the workflow may end
        self.changes += 1

    # Notices ---------------------------------------------------------------------------------

    def _notify(self, kind: str) -> None:
        view = engine.view(self.chain) if self.chain is not None else None
        if view is None:
            return
        self.notices.append(
            ChainNotice(
                kind=kind,
                key=f"{workflow.info().workflow_id}:chain:{self.events}:{kind}",
                subject=self.subject,
                subject_id=self.subject_id,
                label=self.label,
                brand_id=self.target.brand_id,
                region_id=self.target.region_id,
                partner_id=self.target.partner_id,
                stage=view,
                submitted_by=self.submitted_by,
                due_at=self._due(),
                portal_path=self.portal_path,
            )
        )

    async def _send_notices(self) -> None:
        """Emails go from `run`'s loop, so a slow mail server never delays a decider's answer;
        one that still fails after its retries is given up (the ChainTask keeps the work
        visible in the API)."""
        while self.notices and self.outcome is None:
            notice = self.notices.pop(0)
            try:
                await workflow.execute_activity(
                    "notify_chain_approvers",
                    notice,
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=NOTICE_RETRY,
                )
            except ActivityError:
                workflow.logger.warning("chain notice %s could not be sent", notice.key)

    # Reading -----------------------------------------------------------------------------------

    def status(self) -> ChainStatus:
        chain = self.chain
        return ChainStatus(
            subject=self.subject,
            subject_id=self.subject_id,
            outcome=self.outcome.value if self.outcome is not None else None,
            stage=engine.view(chain) if chain is not None and self.outcome is None else None,
            skipped=list(chain.skipped) if chain else [],
            passed=[p.name for p in chain.passed] if chain else [],
            events=self.events,
        )

    def _due(self) -> datetime | None:
        """When the waiting stage is due: its first timeout that is more than a reminder."""
        assert self.chain is not None and self.chain.current is not None
        current = self.chain.current
        timeouts = self.chain.policy.spec.stages[current.index].timeouts
        firm = [t.after for t in timeouts if t.action != TimeoutAction.remind]
        return current.started_at + timedelta(seconds=min(firm)) if firm else None

    async def _project(
        self,
        event: str,
        actor_id: int | None,
        comment: str | None,
        stage: str | None = None,
        on_behalf_of: int | None = None,
    ) -> None:
        waiting = not self.closing and self.chain is not None and not self.chain.done
        info = workflow.info()
        self.events += 1
        await workflow.execute_activity(
            "project_chain_task",
            ChainTaskProjection(
                subject=self.subject,
                subject_id=self.subject_id,
                label=self.label,
                brand_id=self.target.brand_id,
                region_id=self.target.region_id,
                partner_id=self.target.partner_id,
                seq=self.events,
                event=event,
                at=workflow.now(),
                actor_id=actor_id,
                on_behalf_of=on_behalf_of,
                comment=comment,
                decided_stage=stage,
                stage=engine.view(self.chain) if waiting and self.chain else None,
                due_at=self._due() if waiting else None,
                workflow_id=info.workflow_id,
                run_id=info.run_id,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=PROJECTION_RETRY,
        )
