"""The journeys' activities: the sweep's pages (enrolment rows, then workflow starts with the
worker's client, a rolling window in flight as activities/fanout.py does for campaigns), and
what a running contact needs (its plan, the check before a step, the send, the end)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.fanout import WINDOW
from core.settings import Settings
from domain.search_attributes import JOURNEY_ID, PARTNER_ID
from mail.transport import MessageSender
from models.journey_io import (
    EnrolledPage,
    EnrolPage,
    FinishEnrolment,
    JourneyContactInput,
    JourneyPlan,
    JourneySendOutcome,
    JourneyStepSend,
    StepCheck,
)
from services.journeys import enrolment, sends, triggers
from services.journeys.plan import plan_of
from services.journeys.triggers import Running
from workflows.journey_contact import JourneyContactWorkflow


def _attributes(running: Running) -> TypedSearchAttributes:
    """What ops filter a journey's contacts by in the Temporal UI (two keywords: each one
    more is a visibility write per start, measurable in bench.journeys)."""
    act = running.activation
    return TypedSearchAttributes(
        [
            SearchAttributePair(JOURNEY_ID, str(act.journey_id)),
            SearchAttributePair(PARTNER_ID, str(act.partner_id)),
        ]
    )


def read_page(engine: Engine, page: EnrolPage) -> tuple[Running | None, triggers.DuePage | None]:
    with Session(engine, expire_on_commit=False) as session:
        running = triggers.load_running(session, page.activation_id)
        if running is None:
            return None, None
        return running, triggers.due_page(session, running, page.at, page.after_contact_id)


def enrol_rows(
    engine: Engine, running: Running, due: list[triggers.Due]
) -> tuple[int, list[enrolment.ToStart]]:
    with Session(engine, expire_on_commit=False) as session:
        return enrolment.enrol(session, running, due)


HEARTBEAT_EVERY = 50  # starts between heartbeats; 50 starts take far less than its 60 s timeout
ROWS_AHEAD = 2 * WINDOW  # contacts whose rows are written while the previous ones start


class _Window:
    """At most WINDOW starts in flight, a rolling window (activities.fanout.in_window), with a
    heartbeat every HEARTBEAT_EVERY starts: 100 in flight finish well inside its timeout.
    Starts are added as their rows are written, so the next rows are written while the
    window stays full."""

    def __init__(self, act: Any) -> None:
        self._act = act
        self._gate = asyncio.Semaphore(WINDOW)
        self._tasks: list[asyncio.Task[None]] = []
        self._done = 0

    async def _one(self, item: enrolment.ToStart) -> None:
        async with self._gate:
            await self._act(item)
            self._done += 1
            if self._done % HEARTBEAT_EVERY == 0:
                activity.heartbeat(self._done)

    def add(self, items: list[enrolment.ToStart]) -> None:
        self._tasks += [asyncio.create_task(self._one(item)) for item in items]

    async def join(self) -> None:
        try:
            await asyncio.gather(*self._tasks)
        finally:
            self.cancel()

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()


class JourneyActivities:
    def __init__(self, engine: Engine, settings: Settings, transport: MessageSender) -> None:
        self._engine = engine
        self._settings = settings
        self._transport = transport

    @activity.defn(name="journey_activations_to_sweep")
    def journey_activations_to_sweep(self, after_activation_id: int) -> list[int]:
        with Session(self._engine) as session:
            return [i for i in triggers.active_activation_ids(session) if i > after_activation_id]

    @activity.defn(name="enrol_journey_page")
    async def enrol_journey_page(self, page: EnrolPage) -> EnrolledPage:
        """Rows first (unique: a repeated page writes nothing), then the starts of the rows
        without a workflow; a workflow already running under the id counts as started."""
        running, due = await asyncio.to_thread(read_page, self._engine, page)
        activity.heartbeat(0)
        if running is None or due is None:
            return EnrolledPage()
        client = activity.client()
        send_queue = page.send_task_queue or self._settings.temporal_delivery_task_queue
        attributes = _attributes(running)
        plan = JourneyPlan(
            spec=running.spec.model_dump(mode="json"), timezone=running.partner.timezone
        )
        started: dict[int, str] = {}
        act = running.activation
        assert act.id is not None

        async def start(item: enrolment.ToStart) -> None:
            with contextlib.suppress(WorkflowAlreadyStartedError):  # running: it is started
                await client.start_workflow(
                    JourneyContactWorkflow.run,
                    JourneyContactInput(
                        enrolment_id=item.enrolment_id,
                        activation_id=act.id or 0,
                        journey_id=act.journey_id,
                        partner_id=act.partner_id,
                        contact_id=item.contact_id,
                        occurrence=item.occurrence,
                        not_before=item.not_before,
                        send_task_queue=send_queue,
                        plan=plan,
                    ),
                    id=item.workflow_id,
                    task_queue=page.contact_task_queue,
                    # A closed run under the id belongs to an earlier database (a reset demo):
                    # the enrolment row, not the id, says whether the contact was enrolled.
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                    search_attributes=attributes,
                    static_summary=f"journey {act.journey_id}, {item.occurrence}",
                )
            started[item.enrolment_id] = item.workflow_id

        # Rows first for every contact, in slices: a slice's starts run while the next slice's
        # rows are written, so the page's inserts do not hold the window back.
        window = _Window(start)
        written = 0
        try:
            for first in range(0, len(due.due), ROWS_AHEAD):
                chunk = due.due[first : first + ROWS_AHEAD]
                wrote, todo = await asyncio.to_thread(enrol_rows, self._engine, running, chunk)
                written += wrote
                window.add(todo)
        except BaseException:
            window.cancel()
            raise
        await window.join()
        if started:
            await asyncio.to_thread(self._mark_started, started)
        return EnrolledPage(
            scanned=due.scanned,
            enrolled=written,
            started=len(started),
            next_contact_id=due.next_contact_id,
        )

    def _mark_started(self, started: dict[int, str]) -> None:
        with Session(self._engine) as session:
            enrolment.mark_started(session, started)

    @activity.defn(name="load_journey_plan")
    def load_journey_plan(self, enrolment_id: int) -> JourneyPlan | None:
        """None when the enrolment has ended already (a second run under the same id)."""
        with Session(self._engine) as session:
            if not enrolment.is_running(session, enrolment_id):
                return None
            return plan_of(session, enrolment_id)

    @activity.defn(name="check_journey_step")
    def check_journey_step(self, enrolment_id: int, step_id: str) -> StepCheck:
        with Session(self._engine) as session:
            found = enrolment.check(session, enrolment_id)
            if found.exit_reason is None:
                enrolment.at_step(session, enrolment_id, step_id)
            return found

    @activity.defn(name="send_journey_step")
    def send_journey_step(self, req: JourneyStepSend) -> JourneySendOutcome:
        return sends.send_step(self._engine, self._settings, self._transport, req)

    @activity.defn(name="finish_journey_enrolment")
    def finish_journey_enrolment(self, end: FinishEnrolment) -> bool:
        info = activity.info()
        with Session(self._engine) as session:
            return enrolment.finish(session, end, info.workflow_id)
