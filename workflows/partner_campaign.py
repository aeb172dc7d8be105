"""PartnerCampaignWorkflow: one partner's way through a campaign, from invitation to hand-over.

Human actions arrive as Updates whose validators refuse, before anything enters history, what
the lifecycle, the roles, four eyes or the content rules forbid. Durable timers remind and
escalate pending approvals and close the personalisation window. Every accepted transition is
projected (row, inbox tasks, audit event) by an idempotent activity before the update returns.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from domain import search_attributes

with workflow.unsafe.imports_passed_through():
    from statemachine.exceptions import TransitionNotAllowed

    from approvals import engine
    from approvals.builtin import pinned_builtin
    from approvals.engine import Chain, Outcome
    from approvals.facts import ApprovalFacts
    from approvals.policy import PinnedPolicy, TimeoutAction
    from approvals.views import Decision
    from content.spec import BrandRules, TemplateContent, ValidationContext
    from content.validate import validate_values
    from core.policy import Permission, Target, allows, principal_of
    from core.said import said
    from domain import refusals
    from domain.scheduling import REMIND_BEFORE, SCHEDULE_REMINDER
    from domain.states import (
        PARTNER_CAMPAIGN_FINAL,
        PERSONALISING,
        PartnerCampaignState,
        TaskKind,
    )
    from domain.workflow_ids import send_workflow_id
    from i18n.labels import state_word
    from models.claim_io import ClaimStart
    from models.series_io import StandingAnswer, StandingQuery
    from models.workflow_io import (
        ActorRef,
        AssetCheck,
        CampaignShared,
        PartnerAction,
        PartnerCampaignInput,
        PartnerCampaignStatus,
        PartnerNotice,
        PartnerOutcome,
        PartnerTransition,
        SendInput,
        SendResult,
        TimelineEntry,
    )
    from workflows import send_start
    from workflows.partner_campaign_lifecycle import (
        PartnerCampaignEvent,
        allowed_events,
        next_state,
    )
    from workflows.send import SendWorkflow

E = PartnerCampaignEvent
S = PartnerCampaignState
PROJECTION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
HANDOVER = "scheduled: waiting for delivery"  # the result until the SendWorkflow continues it
# What a chain's outcome does to the lifecycle (the counted vote and reminders change nothing).
OUTCOME_EVENT = {
    Outcome.advanced: E.advance,
    Outcome.approved: E.approve,
    Outcome.changes_requested: E.request_changes,
    Outcome.rejected: E.reject,
    Outcome.expired: E.expire,
}
PARTNER_EVENTS = frozenset({E.save, E.submit, E.decline, E.schedule})
NOTICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5), maximum_attempts=8
)
# Which notice a transition asks for (by the event; entering a stage is handled by the chain).
NOTICE_FOR_EVENT = {
    E.open: "invited",
    E.request_changes: "changes_requested",
    E.asset_blocked: "changes_requested",
}


def _refuse(
    message: str, kind: str, errors: list[dict[str, str]] | None = None
) -> ApplicationError:
    """A refusal the API maps to its HTTP problem: `kind` says which, `errors` lists every
    field at fault (the message alone would carry only one); a message said with its
    catalogue words carries them too, for the portal (domain.refusals)."""
    details: dict[str, object] = {"kind": kind, "errors": errors or []}
    words = refusals.carried(message)
    if words is not None:
        details["said"] = words
    return ApplicationError(str(message), details, type=kind)


def pinned_policy(shared: CampaignShared) -> PinnedPolicy:
    """The chain this campaign runs: pinned at launch, or (executions started before
    policies were data) the built-in one it named, with its timeouts."""
    if shared.approval is not None:
        return shared.approval
    return pinned_builtin(shared.approval_policy, shared.remind_after, shared.escalate_after)


@workflow.defn
class PartnerCampaignWorkflow:
    @workflow.init
    def __init__(self, inp: PartnerCampaignInput) -> None:
        self.shared = inp.shared
        self.partner = inp.partner
        self.state = S.invited.value
        start = inp.shared.defaults if inp.partner.values is None else inp.partner.values
        self.values: dict[str, object] = dict(start)
        self.send_at: datetime | None = None
        self.submitted_by: int | None = None
        self.segment_id: int | None = None
        self.revision = 0  # submissions so far: decisions and one-click links name theirs
        self.policy = pinned_policy(inp.shared)
        self.chain: Chain | None = None  # the approval chain of the current submission
        self.personalise_until = inp.shared.personalise_until
        self.timeline: list[TimelineEntry] = []
        self.changes = 0  # bumps on every transition or window change: wakes the main loop
        self.cancel_requested = False
        self.lock = asyncio.Lock()
        self.content = TemplateContent.model_validate(inp.shared.content)
        self.notices: list[PartnerNotice] = []
        self.schedule_reminded = False  # approved without a send time: editors reminded once

    # Run ---------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: PartnerCampaignInput) -> str:
        opened = inp.opened is not None and workflow.patched("open-projected-by-fanout")
        if opened:
            assert inp.opened is not None
            self._opened_by_fanout(inp.opened, inp.invited_by_campaign)
        attributes = [
            search_attributes.CAMPAIGN_ID.value_set(str(self.shared.campaign_id)),
            search_attributes.PARTNER_ID.value_set(str(self.partner.partner_id)),
            search_attributes.REGION_ID.value_set(str(self.partner.region_id)),
            search_attributes.APPROVAL_STATE.value_set(self.state),
        ]
        if opened:
            attributes.append(search_attributes.APPROVAL_STAGE.value_set(""))
        workflow.upsert_search_attributes(attributes)
        if not opened:
            await self._apply(E.open, None, None)
        while self.state not in PARTNER_CAMPAIGN_FINAL:
            if self.notices:
                await self._send_notices()
                continue
            if self.cancel_requested:
                self.cancel_requested = False
                if E.cancel.value in allowed_events(self.state):
                    await self._apply(E.cancel, None, "cancelled by headquarters")
                continue
            if self.state == S.scheduled and self.send_at is not None:
                if await self._wait_until(self.send_at):
                    if self.shared.delivery_task_queue is None or not workflow.patched("deliver"):
                        return await self._report(inp, HANDOVER)  # started before delivery
                    await self._deliver(self.shared.delivery_task_queue)
                continue
            deadline, event, note = self._next_deadline()
            if await self._wait_until(deadline):
                await self._on_deadline(event, note)
        await self._send_notices()
        return await self._report(inp, self.state)

    def _opened_by_fanout(self, entry: TimelineEntry, invited_by_campaign: bool) -> None:
        """invited -> drafting as the fan-out projected it before starting this workflow (row,
        task and audit event, one transaction per page): the same state and timeline as
        `_apply(E.open)`, without an activity (run() upserts the search attributes). The
        invitation is the campaign's to send when it says so (the same notice key either way)."""
        self.timeline.append(entry)
        self.state = entry.to_state
        self.changes += 1
        workflow.set_current_details(f"{self.state} (after {entry.event})")
        if not invited_by_campaign:
            self._notify(NOTICE_FOR_EVENT[E.open])

    async def _deliver(self, task_queue: str) -> None:
        """scheduled -> sending -> sent | partially_sent, through a SendWorkflow child; an
        asset that may no longer be used (licence expired, archived) sends the campaign back
        to the partner instead."""
        if self.shared.template_version_id is not None:
            check = AssetCheck(
                version_id=self.shared.template_version_id,
                partner_id=self.partner.partner_id,
                values=dict(self.values),
                locale=self.partner.locale,
                on=workflow.now().date(),
            )
            try:
                await workflow.execute_activity(
                    "check_assets_before_send",
                    check,
                    task_queue=task_queue,
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=PROJECTION_RETRY,
                )
            except ActivityError as err:
                cause = err.cause
                if isinstance(cause, ApplicationError) and cause.type == "asset_blocked":
                    await self._apply(E.asset_blocked, None, cause.message)
                    return
                raise
        await self._apply(E.start_sending, None, None)
        pcid = self.partner.partner_campaign_id
        attributes = search_attributes.email_channel()
        summary = f"Send of {self.shared.name} for partner {self.partner.partner_id}"
        details: str | None = None
        if workflow.patched("send-search-attributes"):
            attributes, summary, details = send_start.options(self.shared, self.partner)
        result: SendResult = await workflow.execute_child_workflow(
            SendWorkflow.run,
            SendInput(
                partner_campaign_id=pcid,
                campaign_id=self.shared.campaign_id,
                brand_id=self.shared.brand_id,
                partner_id=self.partner.partner_id,
                delivery_task_queue=task_queue,
            ),
            id=send_workflow_id(pcid),
            search_attributes=attributes,
            static_summary=summary,
            static_details=details,
        )
        counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items()) if v)
        event = E.finish if result.outcome == "sent" else E.finish_partially
        comment = counts or "nobody to send to"
        if result.outcome == "late" and workflow.patched("send-late-expire"):
            # Past the deadline: expired when nothing went, else partially sent; with why.
            event = E.finish_partially if result.counts.get("sent") else E.expire
            comment = f"{result.reason}" + (f" ({counts})" if counts else "")
        await self._apply(event, None, comment)
        if self.state in (S.sent, S.partially_sent) and workflow.patched("claim-after-send"):
            await self._start_claim()

    async def _start_claim(self) -> None:
        """The co-op claim for what this send cost (none without a fund or eligible spend).
        A claim that cannot be started is logged, never a reason to fail the campaign."""
        try:
            await workflow.execute_activity(
                "start_claim",
                ClaimStart(partner_campaign_id=self.partner.partner_campaign_id),
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=NOTICE_RETRY,
            )
        except ActivityError as err:
            workflow.logger.warning("no claim started: %s", err)

    async def _report(self, inp: PartnerCampaignInput, result: str) -> str:
        """Tell the campaign this partner's outcome. A campaign that has closed meanwhile
        (an earlier launch's run, a terminated campaign) has nobody left to tell."""
        if inp.report_to is not None:
            outcome = PartnerOutcome(
                partner_campaign_id=self.partner.partner_campaign_id, result=result
            )
            try:
                await workflow.get_external_workflow_handle(inp.report_to).signal(
                    "partner_finished", outcome
                )
            except Exception as err:  # any refusal means nobody is listening
                workflow.logger.warning("could not report to %s: %s", inp.report_to, err)
        return result

    async def _send_notices(self) -> None:
        """Emails go out from the main loop, never from an update handler, so a slow mail
        server never delays the answer to the person who acted. A notice that still fails
        after its retries is given up: the inbox (tasks) keeps the work visible."""
        while self.notices:
            if self.cancel_requested:
                self.notices.clear()  # news about a campaign that is being cancelled is moot
                return
            notice = self.notices.pop(0)
            try:
                await workflow.execute_activity(
                    "notify_partner_campaign",
                    notice,
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=NOTICE_RETRY,
                )
            except ActivityError:
                workflow.logger.warning("notice %s could not be sent", notice.key)

    def _next_deadline(self) -> tuple[datetime, PartnerCampaignEvent | None, str | int]:
        shared = self.shared
        if self.state in PERSONALISING:
            return self.personalise_until, None, "window"
        if self.state == S.pending_approval and self.chain is not None:
            due = engine.next_timeout(self.chain)
            if due is not None and due[0] < shared.send_by:
                return due[0], None, due[1]  # the stage's timeout number `due[1]`
            return shared.send_by, E.expire, "no decision before the send deadline"
        # approved, not yet scheduled: the content goes out at the latest at send_by; before
        # that the editors are reminded once to pick a send time (at once when approved later)
        if (
            self.state == S.approved
            and not self.schedule_reminded
            and workflow.patched("schedule-reminder")
        ):
            return shared.send_by - REMIND_BEFORE, None, SCHEDULE_REMINDER
        return shared.send_by, E.schedule, "scheduled at the send deadline"

    async def _wait_until(self, when: datetime) -> bool:
        """True when `when` came; False when something changed first (re-plan)."""
        seen = self.changes
        delay = (when - workflow.now()).total_seconds()
        if delay <= 0:
            return True
        try:
            await workflow.wait_condition(
                lambda: self.changes != seen or self.cancel_requested or bool(self.notices),
                timeout=timedelta(seconds=delay),
            )
        except TimeoutError:
            return True
        return False

    async def _on_deadline(self, event: PartnerCampaignEvent | None, note: str | int) -> None:
        if isinstance(note, int):
            await self._stage_timeout(note)
        elif note == SCHEDULE_REMINDER:
            self.schedule_reminded = True
            if self.state == S.approved:
                self._notify(SCHEDULE_REMINDER)
        elif note == "window":
            if self.shared.mode == "opt_out":
                await self._apply(E.go_ahead, None, "window closed: HQ's defaults go out")
                self.send_at = self.shared.send_by
                await self._apply(E.schedule, None, "scheduled at the send deadline")
            else:
                await self._apply(E.expire, None, "personalisation window closed")
        elif event == E.schedule:
            self.send_at = self.shared.send_by
            await self._apply(E.schedule, None, note)
        elif event is not None:
            await self._apply(event, None, note)

    async def _stage_timeout(self, index: int) -> None:
        """The waiting stage's SLA ran out: what its policy says (each timeout once). Under the
        lock, so a decision in flight finishes first; if it moved the chain on, the timeout
        belonged to a stage that is no longer waiting and does nothing."""
        assert self.chain is not None and self.chain.current is not None
        planned = (self.chain.current.index, self.chain.current.started_at)
        async with self.lock:
            current = self.chain.current if self.chain is not None else None
            if self.state != S.pending_approval or current is None:
                return
            if (current.index, current.started_at) != planned:
                return
            stage = current.label
            timeout = self.chain.policy.spec.stages[current.index].timeouts[index]
            self.chain, outcome = engine.fire(self.chain, index, workflow.now())
            if outcome == Outcome.reminded:
                await self._record_note("remind", f"{stage}: approval reminder sent")
                self._notify("reminder")
            elif outcome == Outcome.escalated:
                added = ", ".join(a.label() for a in timeout.to)
                await self._record_note("escalate", f"{stage}: escalated to {added}")
                self._notify("escalated")
            else:
                note = f"{stage}: {outcome.value} by timeout"
                await self._transition(OUTCOME_EVENT[outcome], None, note)

    # Queries and signals -----------------------------------------------------------------------

    @workflow.query
    def status(self) -> PartnerCampaignStatus:
        return PartnerCampaignStatus(
            partner_campaign_id=self.partner.partner_campaign_id,
            state=self.state,
            values=dict(self.values),
            send_at=self.send_at,
            escalation_level=self._escalation(),
            personalise_until=self.personalise_until,
            timeline=list(self.timeline),
            revision=self.revision,
            stage=engine.view(self.chain) if self.chain else None,
        )

    def _escalation(self) -> int:
        current = self.chain.current if self.chain else None
        return 1 if current is not None and current.escalated else 0

    @workflow.signal
    def cancel(self) -> None:
        self.cancel_requested = True

    @workflow.signal
    def extend(self, personalise_until: datetime) -> None:
        """A later window (HQ extended the campaign); never beyond the send deadline."""
        if personalise_until > self.personalise_until:
            self.personalise_until = min(personalise_until, self.shared.send_by)
            self.changes += 1

    # Updates -----------------------------------------------------------------------------------

    @workflow.update
    async def save_content(self, action: PartnerAction) -> PartnerCampaignStatus:
        return await self._act(E.save, action)

    @save_content.validator
    def _validate_save(self, action: PartnerAction) -> None:
        self._check(E.save, action)

    @workflow.update
    async def submit(self, action: PartnerAction) -> PartnerCampaignStatus:
        return await self._act(E.submit, action)

    @submit.validator
    def _validate_submit(self, action: PartnerAction) -> None:
        self._check(E.submit, action)

    @workflow.update
    async def decide(self, action: PartnerAction) -> PartnerCampaignStatus:
        async with self.lock:
            # Re-check under the lock: another decision may have moved the chain meanwhile.
            decision = self._check_decision(action)
            await self._decide(decision, action)
        return self.status()

    @decide.validator
    def _validate_decide(self, action: PartnerAction) -> None:
        self._check_decision(action)

    @workflow.update
    async def decline(self, action: PartnerAction) -> PartnerCampaignStatus:
        return await self._act(E.decline, action)

    @decline.validator
    def _validate_decline(self, action: PartnerAction) -> None:
        self._check(E.decline, action)

    @workflow.update
    async def schedule(self, action: PartnerAction) -> PartnerCampaignStatus:
        return await self._act(E.schedule, action)

    @schedule.validator
    def _validate_schedule(self, action: PartnerAction) -> None:
        self._check(E.schedule, action)

    # Rules -------------------------------------------------------------------------------------

    def _target(self) -> Target:
        return Target(self.shared.brand_id, self.partner.region_id, self.partner.partner_id)

    def _check_reach(self, action: PartnerAction) -> None:
        principal = principal_of(action.actor)
        if principal.brand_id != self.shared.brand_id or not allows(
            principal, Permission.partner_campaign_read, self._target()
        ):
            raise _refuse(
                f"partner campaign {self.partner.partner_campaign_id} not found", "not_found"
            )

    def _check(self, event: PartnerCampaignEvent, action: PartnerAction) -> None:
        """The partner's own actions: save, submit, decline, schedule."""
        self._check_reach(action)
        try:
            next_state(self.state, event.value)
        except TransitionNotAllowed as err:
            raise _refuse(refusals.cannot(event.value, self.state), "conflict") from err
        if not allows(principal_of(action.actor), Permission.partner_campaign_edit, self._target()):
            raise _refuse(said(refusals.NOT_YOURS), "forbidden")
        self._check_partner_action(event, action)

    def _check_decision(self, action: PartnerAction) -> Decision:
        """A decision on the waiting stage: the approval engine says who may take it."""
        self._check_reach(action)
        try:
            decision = Decision(action.decision or "")
        except ValueError:
            raise _refuse(
                "decision: must be approve, request_changes or reject",
                "invalid",
                [{"field": "decision", "message": "must be approve, request_changes or reject"}],
            ) from None
        if self.state != S.pending_approval or self.chain is None or self.chain.done:
            state = state_word(self.state)
            raise _refuse(said(refusals.CANNOT_DECIDE, state=state), "conflict")
        on_behalf = principal_of(action.on_behalf_of) if action.on_behalf_of else None
        refused = engine.refusal(
            self.chain, principal_of(action.actor), self._target(), on_behalf_of=on_behalf
        )
        if refused is not None:
            raise _refuse(refused, "forbidden")
        if action.revision is not None and action.revision != self.revision:
            changed = said(refusals.CHANGED, seen=action.revision, now=self.revision)
            raise _refuse(changed, "stale")
        if decision != Decision.approve and not (action.comment or "").strip():
            message = "say what must change or why it is rejected"
            raise _refuse(
                f"comment: {message}", "invalid", [{"field": "comment", "message": message}]
            )
        return decision

    def _check_partner_action(self, event: PartnerCampaignEvent, action: PartnerAction) -> None:
        if event == E.save:
            if action.values is None:
                message = "send the slot values to save"
                raise _refuse(
                    f"values: {message}", "invalid", [{"field": "values", "message": message}]
                )
            self._check_values(action.values)
        elif event == E.submit:
            self._check_values(action.values if action.values is not None else self.values)
            if workflow.now() > self.personalise_until:
                raise _refuse(said(refusals.WINDOW_CLOSED), "conflict")
        elif event == E.schedule:
            send_at = action.send_at
            if send_at is None:
                message = "say when the campaign goes out"
            elif send_at < workflow.now() or send_at > self.shared.send_by:
                message = f"must be between now and {self.shared.send_by.isoformat()}"
            else:
                return
            raise _refuse(
                f"send_at: {message}", "invalid", [{"field": "send_at", "message": message}]
            )

    def _check_values(self, values: dict[str, object]) -> None:
        """The content rules, without the asset library (the API checked assets already)."""
        ctx = ValidationContext(
            locale=self.partner.locale,
            partner=self.partner.profile,
            partner_id=self.partner.partner_id,
            partner_region_id=self.partner.region_id,
            window_start=workflow.now().date(),
            window_end=self.shared.send_by.date(),
            brand=BrandRules.model_validate(self.shared.brand_rules),
            today=workflow.now().date(),
        )
        errors = validate_values(self.content, dict(values), ctx)
        if errors:
            raise _refuse(
                "; ".join(f"{e.field}: {e.message}" for e in errors),
                "invalid",
                [{"field": e.field, "message": e.message} for e in errors],
            )

    # Transitions -------------------------------------------------------------------------------

    async def _act(
        self, event: PartnerCampaignEvent, action: PartnerAction
    ) -> PartnerCampaignStatus:
        async with self.lock:
            # Re-check under the lock: another update may have moved the state meanwhile.
            self._check(event, action)
            if event == E.save and action.values is not None:
                self.values = dict(action.values)
            if event == E.submit:
                if action.values is not None:
                    self.values = dict(action.values)
                self.submitted_by = action.actor.user_id
                self.segment_id = action.segment_id
                self.revision += 1
            if event == E.schedule:
                self.send_at = action.send_at
            if event == E.submit:
                self._start_chain(action.facts or ApprovalFacts())
            await self._transition(event, action.actor, action.comment)
            if event == E.submit and self.chain is not None and self.chain.done:
                await self._transition(E.approve, None, self._no_stage_note())
            elif (
                event == E.submit
                and self.shared.series_id is not None
                and workflow.patched("standing-approval")
            ):
                await self._standing_approval()
        return self.status()

    def _start_chain(self, facts: ApprovalFacts) -> None:
        """A (re)submission starts the pinned policy's chain: at its first stage whose
        condition holds, or where the policy says a resubmission resumes."""
        now = workflow.now()
        if self.chain is None:
            self.chain = engine.begin(self.policy, facts, self.submitted_by, now)
        else:
            self.chain = engine.restart(self.chain, facts, self.submitted_by, now)

    async def _standing_approval(self) -> None:
        """A series occurrence: where the GM's stage would start, the GM's standing approval
        decides it when it covers this very content (HQ's locked content, the defaults, the
        partner's values); the engine still checks the GM may decide (roles, four eyes).
        Otherwise the stage waits as usual, with a note saying why."""
        assert self.chain is not None
        answer: StandingAnswer = await workflow.execute_activity(
            "standing_approval_for",
            StandingQuery(
                campaign_id=self.shared.campaign_id,
                partner_id=self.partner.partner_id,
                values=dict(self.values),
            ),
            result_type=StandingAnswer,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=PROJECTION_RETRY,
        )
        refused = answer.reason
        if answer.actor is not None:
            refused = engine.refusal(self.chain, principal_of(answer.actor), self._target()) or ""
            refused = f"standing approval not used: {refused}" if refused else ""
        if answer.actor is None or refused:
            if refused:
                await self._record_note("standing_approval_refused", refused)
            return
        stage = self.chain.current
        assert stage is not None
        gm = answer.actor.user_id
        self.chain, outcome = engine.vote(self.chain, Decision.approve, gm, gm, workflow.now())
        # Nobody needs telling about a stage that was decided at once.
        self.notices = [n for n in self.notices if n.kind != "approval_pending"]
        if outcome == Outcome.counted:
            await self._record_note("vote", answer.note, answer.actor, gm, stage.name)
            return
        await self._transition(OUTCOME_EVENT[outcome], answer.actor, answer.note, stage=stage.name)

    def _no_stage_note(self) -> str:
        assert self.chain is not None
        if not self.chain.skipped:
            return "no approval required"
        return f"no approval required: {', '.join(self.chain.skipped)} did not apply"

    async def _decide(self, decision: Decision, action: PartnerAction) -> None:
        assert self.chain is not None and self.chain.current is not None
        stage = self.chain.current
        counted = action.on_behalf_of.user_id if action.on_behalf_of else action.actor.user_id
        self.chain, outcome = engine.vote(
            self.chain, decision, counted, action.actor.user_id, workflow.now()
        )
        if outcome == Outcome.counted:
            view = engine.view(self.chain)
            assert view is not None
            note = f"{stage.label}: approved, {view.approvals} of {view.required}"
            await self._record_note("vote", note, action.actor, counted, stage.name)
            return
        await self._transition(
            OUTCOME_EVENT[outcome],
            action.actor,
            action.comment,
            on_behalf_of=counted if counted != action.actor.user_id else None,
            stage=stage.name,
        )

    async def _apply(
        self, event: PartnerCampaignEvent, actor: ActorRef | None, comment: str | None
    ) -> None:
        async with self.lock:
            await self._transition(event, actor, comment)

    async def _transition(
        self,
        event: PartnerCampaignEvent,
        actor: ActorRef | None,
        comment: str | None,
        *,
        on_behalf_of: int | None = None,
        stage: str | None = None,
    ) -> None:
        before = self.state
        after = next_state(before, event.value)
        waiting = self._waiting_stage() if after == S.pending_approval else None
        await self._project(
            event.value, before, after, actor, comment, on_behalf_of, stage or waiting
        )
        self.state = after
        self.changes += 1
        workflow.upsert_search_attributes([search_attributes.APPROVAL_STATE.value_set(after)])
        if workflow.patched("approval-stage-attribute"):
            workflow.upsert_search_attributes(
                [search_attributes.APPROVAL_STAGE.value_set(waiting or "")]
            )
        shown = after.replace("_", " ") + (f": {waiting}" if waiting else "")
        workflow.set_current_details(f"{shown} (after {event.value})")
        kind = NOTICE_FOR_EVENT.get(event)
        if waiting is not None and (before != after or event == E.advance):
            kind = "approval_pending"
        if kind is not None:
            self._notify(kind, comment)

    def _waiting_stage(self) -> str | None:
        current = self.chain.current if self.chain else None
        return current.name if current is not None else None

    def _due(self) -> datetime:
        """When the waiting stage is due: its first timeout that is more than a reminder, else
        the send deadline (the inbox orders by it, and shows it overdue after)."""
        assert self.chain is not None and self.chain.current is not None
        current = self.chain.current
        timeouts = self.chain.policy.spec.stages[current.index].timeouts
        firm = [t.after for t in timeouts if t.action != TimeoutAction.remind]
        if firm:
            return min(current.started_at + timedelta(seconds=min(firm)), self.shared.send_by)
        return self.shared.send_by

    def _notify(self, kind: str, comment: str | None = None) -> None:
        due = None
        pending = self.state == S.pending_approval and self.chain and self.chain.current
        if self.state in PERSONALISING:
            due = self.personalise_until
        elif pending:
            due = self._due()
        elif kind == SCHEDULE_REMINDER:
            due = self.shared.send_by
        self.notices.append(
            PartnerNotice(
                kind=kind,
                key=f"{workflow.info().workflow_id}:{len(self.timeline)}:{kind}",
                campaign_id=self.shared.campaign_id,
                campaign_name=self.shared.name,
                brand_id=self.shared.brand_id,
                partner=self.partner,
                stage=self.state,
                escalation_level=self._escalation(),
                comment=comment,
                due_at=due,
                revision=self.revision,
                approval=engine.view(self.chain) if pending and self.chain else None,
            )
        )

    async def _record_note(
        self,
        event: str,
        comment: str,
        actor: ActorRef | None = None,
        on_behalf_of: int | None = None,
        stage: str | None = None,
    ) -> None:
        """Reminders, escalations and votes that do not pass a stage: no state change, but an
        audit event and fresh tasks. The caller holds the lock."""
        counted = on_behalf_of if actor and on_behalf_of != actor.user_id else None
        await self._project(
            event, self.state, self.state, actor, comment, counted, stage or self._waiting_stage()
        )
        self.changes += 1

    async def _project(
        self,
        event: str,
        before: str,
        after: str,
        actor: ActorRef | None,
        comment: str | None,
        on_behalf_of: int | None = None,
        stage: str | None = None,
    ) -> None:
        entry = TimelineEntry(
            seq=len(self.timeline) + 1,
            at=workflow.now(),
            event=event,
            from_state=before,
            to_state=after,
            actor_id=actor.user_id if actor else None,
            comment=comment,
            stage=stage,
            on_behalf_of=on_behalf_of,
        )
        info = workflow.info()
        pending = after == S.pending_approval and self.chain is not None
        await workflow.execute_activity(
            "project_partner_campaign",
            PartnerTransition(
                shared_campaign_id=self.shared.campaign_id,
                brand_id=self.shared.brand_id,
                partner=self.partner,
                entry=entry,
                values=dict(self.values),
                send_at=self.send_at,
                submitted_by=self.submitted_by,
                segment_id=self.segment_id,
                escalation_level=self._escalation() if pending else 0,
                revision=self.revision,
                stage=engine.view(self.chain) if pending and self.chain else None,
                policy_version_id=self.policy.version_id,
                open_tasks=self._open_tasks(after),
                workflow_id=info.workflow_id,
                run_id=info.run_id,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=PROJECTION_RETRY,
        )
        self.timeline.append(entry)

    def _open_tasks(self, state: str) -> dict[str, datetime | None]:
        if state in PERSONALISING:
            return {TaskKind.personalise: self.personalise_until}
        if state == S.pending_approval and self.chain is not None and self.chain.current:
            return {TaskKind.approve: self._due()}
        return {}
