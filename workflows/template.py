"""TemplateWorkflow: one per template version, from draft until it is rejected or retired.

Decisions arrive as Updates whose validators refuse, before anything enters history, what the
lifecycle, the roles or four eyes forbid. Each accepted transition is projected to the database
(version row + audit event) by an activity before the update returns, so the API reads a
consistent state right after.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from domain import search_attributes

with workflow.unsafe.imports_passed_through():
    from statemachine.exceptions import TransitionNotAllowed

    from core.policy import Permission, Target, allows, four_eyes_ok, principal_of
    from domain.states import TemplateState
    from models.workflow_io import (
        ActorRef,
        TemplateDecision,
        TemplateStatus,
        TemplateTransition,
        TemplateWorkflowInput,
        TimelineEntry,
    )
    from workflows.template_lifecycle import TemplateEvent, next_state

FINAL = frozenset({TemplateState.rejected.value, TemplateState.retired.value})
AUTHOR_EVENTS = frozenset({TemplateEvent.submit, TemplateEvent.revise, TemplateEvent.retire})
DECISIONS = {
    "approve": TemplateEvent.approve,
    "request_changes": TemplateEvent.request_changes,
    "reject": TemplateEvent.reject,
}
PROJECTION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)


@workflow.defn
class TemplateWorkflow:
    @workflow.init
    def __init__(self, inp: TemplateWorkflowInput) -> None:
        self.inp = inp
        self.state = inp.initial_state
        self.timeline: list[TimelineEntry] = []
        self.submitted_by: int | None = inp.submitted_by
        self.lock = asyncio.Lock()

    @workflow.run
    async def run(self, inp: TemplateWorkflowInput) -> str:
        workflow.upsert_search_attributes(
            [search_attributes.TEMPLATE_ID.value_set(str(inp.template_id))]
        )
        await workflow.wait_condition(lambda: self.state in FINAL and not self.lock.locked())
        return self.state

    # Queries ------------------------------------------------------------------------------

    @workflow.query
    def status(self) -> TemplateStatus:
        return TemplateStatus(
            version_id=self.inp.version_id, state=self.state, timeline=list(self.timeline)
        )

    # Updates ------------------------------------------------------------------------------

    @workflow.update
    async def submit(self, actor: ActorRef) -> TemplateStatus:
        return await self._apply(TemplateEvent.submit, actor, None)

    @submit.validator
    def _validate_submit(self, actor: ActorRef) -> None:
        self._check(TemplateEvent.submit, actor, None)

    @workflow.update
    async def revise(self, actor: ActorRef) -> TemplateStatus:
        return await self._apply(TemplateEvent.revise, actor, None)

    @revise.validator
    def _validate_revise(self, actor: ActorRef) -> None:
        self._check(TemplateEvent.revise, actor, None)

    @workflow.update
    async def decide(self, decision: TemplateDecision) -> TemplateStatus:
        return await self._apply(DECISIONS[decision.decision], decision.actor, decision.comment)

    @decide.validator
    def _validate_decide(self, decision: TemplateDecision) -> None:
        event = DECISIONS.get(decision.decision)
        if event is None:
            raise ApplicationError(
                "decision must be approve, request_changes or reject", type="invalid"
            )
        self._check(event, decision.actor, decision.comment)

    @workflow.update
    async def retire(self, actor: ActorRef) -> TemplateStatus:
        return await self._apply(TemplateEvent.retire, actor, None)

    @retire.validator
    def _validate_retire(self, actor: ActorRef) -> None:
        self._check(TemplateEvent.retire, actor, None)

    # Rules --------------------------------------------------------------------------------

    def _check(self, event: TemplateEvent, actor: ActorRef, comment: str | None) -> None:
        principal = principal_of(actor)
        brand = Target(self.inp.brand_id)
        if principal.brand_id != self.inp.brand_id:
            raise ApplicationError(
                f"template version {self.inp.version_id} not found", type="not_found"
            )
        needed = (
            Permission.template_author if event in AUTHOR_EVENTS else Permission.template_review
        )
        if not allows(principal, needed, brand):
            raise ApplicationError(f"Your roles do not allow {needed.value}", type="forbidden")
        try:
            next_state(self.state, event.value)
        except TransitionNotAllowed as err:
            raise ApplicationError(
                f"Cannot {event.value.replace('_', ' ')} a version that is {self.state}",
                type="conflict",
            ) from err
        if event in DECISIONS.values():
            if not four_eyes_ok(self.inp.author_id, actor.user_id) or not four_eyes_ok(
                self.submitted_by, actor.user_id
            ):
                raise ApplicationError(
                    "Four eyes: the author or submitter of a version cannot decide on it",
                    type="forbidden",
                )
            if event != TemplateEvent.approve and not (comment and comment.strip()):
                raise ApplicationError(
                    "comment: say what must change or why the version is rejected",
                    type="invalid",
                )

    async def _apply(
        self, event: TemplateEvent, actor: ActorRef, comment: str | None
    ) -> TemplateStatus:
        async with self.lock:
            # Re-check under the lock: another update may have moved the state meanwhile.
            self._check(event, actor, comment)
            before = self.state
            after = next_state(before, event.value)
            entry = TimelineEntry(
                seq=len(self.timeline) + 1,
                at=workflow.now(),
                event=event.value,
                from_state=before,
                to_state=after,
                actor_id=actor.user_id,
                comment=comment,
            )
            info = workflow.info()
            await workflow.execute_activity(
                "project_template_transition",
                TemplateTransition(
                    version_id=self.inp.version_id,
                    brand_id=self.inp.brand_id,
                    entry=entry,
                    workflow_id=info.workflow_id,
                    run_id=info.run_id,
                ),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=PROJECTION_RETRY,
            )
            self.state = after
            self.timeline.append(entry)
            if event == TemplateEvent.submit:
                self.submitted_by = actor.user_id
            return self.status()
