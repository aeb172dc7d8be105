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

from workflows import search_attributes

with workflow.unsafe.imports_passed_through():
    from statemachine.exceptions import TransitionNotAllowed

    from content.spec import BrandRules, TemplateContent, ValidationContext
    from content.validate import validate_values
    from core.policy import (
        Permission,
        Target,
        allows,
        four_eyes_ok,
        may_decide_stage,
        principal_of,
    )
    from models.workflow_io import (
        ActorRef,
        AssetCheck,
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
    from workflows.partner_campaign_lifecycle import (
        FINAL,
        PENDING_APPROVAL,
        PERSONALISING,
        PartnerCampaignEvent,
        PartnerCampaignState,
        allowed_events,
        next_state,
    )
    from workflows.send import SendWorkflow, send_workflow_id

E = PartnerCampaignEvent
S = PartnerCampaignState
PROJECTION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
HANDOVER = "scheduled: waiting for delivery"  # the result until the SendWorkflow continues it
DECISIONS = {
    "approve": E.approve,
    "request_changes": E.request_changes,
    "reject": E.reject,
}
PARTNER_EVENTS = frozenset({E.save, E.submit, E.decline, E.schedule})
NOTICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5), maximum_attempts=8
)
# Which notice a transition asks for (by the event; entering approval is handled by state).
NOTICE_FOR_EVENT = {
    E.open: "invited",
    E.request_changes: "changes_requested",
    E.asset_blocked: "changes_requested",
}


def partner_campaign_workflow_id(campaign_id: int, partner_id: int) -> str:
    return f"partner-campaign-{campaign_id}-{partner_id}"


def _refuse(message: str, kind: str) -> ApplicationError:
    return ApplicationError(message, type=kind)


@workflow.defn
class PartnerCampaignWorkflow:
    @workflow.init
    def __init__(self, inp: PartnerCampaignInput) -> None:
        self.shared = inp.shared
        self.partner = inp.partner
        self.state = S.invited.value
        self.values: dict[str, object] = dict(inp.shared.defaults)
        self.send_at: datetime | None = None
        self.submitted_by: int | None = None
        self.segment_id: int | None = None
        self.revision = 0  # submissions so far: decisions and one-click links name theirs
        self.escalation = 0
        self.reminded = False
        self.pending_since: datetime | None = None
        self.personalise_until = inp.shared.personalise_until
        self.timeline: list[TimelineEntry] = []
        self.changes = 0  # bumps on every transition or window change: wakes the main loop
        self.cancel_requested = False
        self.lock = asyncio.Lock()
        self.content = TemplateContent.model_validate(inp.shared.content)
        self.notices: list[PartnerNotice] = []

    # Run ---------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: PartnerCampaignInput) -> str:
        workflow.upsert_search_attributes(
            [
                search_attributes.CAMPAIGN_ID.value_set(str(self.shared.campaign_id)),
                search_attributes.PARTNER_ID.value_set(str(self.partner.partner_id)),
                search_attributes.REGION_ID.value_set(str(self.partner.region_id)),
                search_attributes.APPROVAL_STATE.value_set(self.state),
            ]
        )
        await self._apply(E.open, None, None)
        while self.state not in FINAL:
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
            static_summary=f"Send of {self.shared.name} for partner {self.partner.partner_id}",
        )
        counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items()) if v)
        event = E.finish if result.outcome == "sent" else E.finish_partially
        await self._apply(event, None, counts or "nobody to send to")

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

    def _next_deadline(self) -> tuple[datetime, PartnerCampaignEvent | None, str]:
        shared = self.shared
        if self.state in PERSONALISING:
            return self.personalise_until, None, "window"
        if self.state in PENDING_APPROVAL and self.pending_since is not None:
            remind = self.pending_since + timedelta(seconds=shared.remind_after)
            escalate = self.pending_since + timedelta(seconds=shared.escalate_after)
            if not self.reminded and remind < shared.send_by:
                return remind, None, "remind"
            if self.escalation == 0 and self.state == S.pending_gm and escalate < shared.send_by:
                return escalate, None, "escalate"
            return shared.send_by, E.expire, "no decision before the send deadline"
        # approved, not yet scheduled: the content goes out at the latest at send_by
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

    async def _on_deadline(self, event: PartnerCampaignEvent | None, note: str) -> None:
        if note == "window":
            if self.shared.mode == "opt_out":
                await self._apply(E.go_ahead, None, "window closed: HQ's defaults go out")
                self.send_at = self.shared.send_by
                await self._apply(E.schedule, None, "scheduled at the send deadline")
            else:
                await self._apply(E.expire, None, "personalisation window closed")
        elif note == "remind":
            self.reminded = True
            await self._record_note("remind", "approval reminder sent")
            self._notify("reminder")
        elif note == "escalate":
            self.escalation = 1
            await self._record_note("escalate", "escalated to the region manager")
            self._notify("escalated")
        elif event == E.schedule:
            self.send_at = self.shared.send_by
            await self._apply(E.schedule, None, note)
        elif event is not None:
            await self._apply(event, None, note)

    # Queries and signals -----------------------------------------------------------------------

    @workflow.query
    def status(self) -> PartnerCampaignStatus:
        return PartnerCampaignStatus(
            partner_campaign_id=self.partner.partner_campaign_id,
            state=self.state,
            values=dict(self.values),
            send_at=self.send_at,
            escalation_level=self.escalation,
            personalise_until=self.personalise_until,
            timeline=list(self.timeline),
            revision=self.revision,
        )

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
        return await self._act(self._decision_event(action), action)

    @decide.validator
    def _validate_decide(self, action: PartnerAction) -> None:
        self._check(self._decision_event(action), action)

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

    def _decision_event(self, action: PartnerAction) -> PartnerCampaignEvent:
        event = DECISIONS.get(action.decision or "")
        if event is None:
            raise _refuse("decision: must be approve, request_changes or reject", "invalid")
        gm_then_hq = self.shared.approval_policy == "gm_then_hq"
        if event == E.approve and self.state == S.pending_gm and gm_then_hq:
            return E.forward_to_hq
        return event

    def _target(self) -> Target:
        return Target(self.shared.brand_id, self.partner.region_id, self.partner.partner_id)

    def _check(self, event: PartnerCampaignEvent, action: PartnerAction) -> None:
        principal = principal_of(action.actor)
        target = self._target()
        if principal.brand_id != self.shared.brand_id or not allows(
            principal, Permission.partner_campaign_read, target
        ):
            raise _refuse(
                f"partner campaign {self.partner.partner_campaign_id} not found", "not_found"
            )
        try:
            next_state(self.state, event.value)
        except TransitionNotAllowed as err:
            deciding = event in DECISIONS.values() or event == E.forward_to_hq
            verb = "decide on" if deciding else event.value.replace("_", " ")
            message = f"Cannot {verb} a partner campaign that is {self.state}"
            raise _refuse(message, "conflict") from err
        if event in PARTNER_EVENTS:
            if not allows(principal, Permission.partner_campaign_edit, target):
                raise _refuse("Your roles do not allow partner_campaign.edit", "forbidden")
            self._check_partner_action(event, action)
            return
        # A decision at pending_gm or pending_hq.
        if not may_decide_stage(principal, self.state, target, escalated=self.escalation > 0):
            who = "the partner's GM" if self.state == S.pending_gm else "a brand reviewer"
            raise _refuse(f"Only {who} decides at this stage", "forbidden")
        if not four_eyes_ok(self.submitted_by, action.actor.user_id):
            raise _refuse("Four eyes: the person who submitted cannot decide", "forbidden")
        if action.revision is not None and action.revision != self.revision:
            raise _refuse(
                f"The content changed since you saw it (submission {action.revision}; now "
                f"{self.revision}): review the current version before deciding",
                "stale",
            )
        if event in (E.request_changes, E.reject) and not (action.comment or "").strip():
            raise _refuse("comment: say what must change or why it is rejected", "invalid")

    def _check_partner_action(self, event: PartnerCampaignEvent, action: PartnerAction) -> None:
        if event == E.save:
            if action.values is None:
                raise _refuse("values: send the slot values to save", "invalid")
            self._check_values(action.values)
        elif event == E.submit:
            self._check_values(action.values if action.values is not None else self.values)
            if workflow.now() > self.personalise_until:
                raise _refuse("The personalisation window has closed", "conflict")
        elif event == E.schedule:
            send_at = action.send_at
            if send_at is None:
                raise _refuse("send_at: say when the campaign goes out", "invalid")
            if send_at < workflow.now() or send_at > self.shared.send_by:
                raise _refuse(
                    f"send_at: must be between now and {self.shared.send_by.isoformat()}",
                    "invalid",
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
            raise _refuse(f"{errors[0].field}: {errors[0].message}", "invalid")

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
            await self._transition(event, action.actor, action.comment)
            if event == E.submit and self.shared.approval_policy == "none":
                await self._transition(E.approve, None, "no approval required")
        return self.status()

    async def _apply(
        self, event: PartnerCampaignEvent, actor: ActorRef | None, comment: str | None
    ) -> None:
        async with self.lock:
            await self._transition(event, actor, comment)

    async def _transition(
        self, event: PartnerCampaignEvent, actor: ActorRef | None, comment: str | None
    ) -> None:
        before = self.state
        after = next_state(before, event.value)
        if after in PENDING_APPROVAL and before != after:
            self.pending_since = workflow.now()
            self.reminded = False
        await self._project(event.value, before, after, actor, comment)
        self.state = after
        self.changes += 1
        workflow.upsert_search_attributes([search_attributes.APPROVAL_STATE.value_set(after)])
        workflow.set_current_details(f"{after.replace('_', ' ')} (after {event.value})")
        kind = NOTICE_FOR_EVENT.get(event)
        if after in PENDING_APPROVAL and before != after:
            kind = "approval_pending"
        if kind is not None:
            self._notify(kind, comment)

    def _notify(self, kind: str, comment: str | None = None) -> None:
        due = None
        if self.state in PERSONALISING:
            due = self.personalise_until
        elif self.pending_since is not None:
            due = self.pending_since + timedelta(seconds=self.shared.escalate_after)
        self.notices.append(
            PartnerNotice(
                kind=kind,
                key=f"{workflow.info().workflow_id}:{len(self.timeline)}:{kind}",
                campaign_id=self.shared.campaign_id,
                campaign_name=self.shared.name,
                brand_id=self.shared.brand_id,
                partner=self.partner,
                stage=self.state,
                escalation_level=self.escalation,
                comment=comment,
                due_at=due,
                revision=self.revision,
            )
        )

    async def _record_note(self, event: str, comment: str) -> None:
        """Reminders and escalations: no state change, but an audit event and fresh tasks."""
        async with self.lock:
            await self._project(event, self.state, self.state, None, comment)
            self.changes += 1

    async def _project(
        self,
        event: str,
        before: str,
        after: str,
        actor: ActorRef | None,
        comment: str | None,
    ) -> None:
        entry = TimelineEntry(
            seq=len(self.timeline) + 1,
            at=workflow.now(),
            event=event,
            from_state=before,
            to_state=after,
            actor_id=actor.user_id if actor else None,
            comment=comment,
        )
        info = workflow.info()
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
                escalation_level=self.escalation,
                revision=self.revision,
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
            return {"personalise": self.personalise_until}
        due = None
        if self.pending_since is not None:
            due = self.pending_since + timedelta(seconds=self.shared.escalate_after)
        if state == S.pending_gm:
            return {"approve_gm": due}
        if state == S.pending_hq:
            return {"approve_hq": due}
        return {}
