"""The journey sweep as the schedule runs it: started without arguments on the orchestration
queue of the registry's workers, contacts on that queue, their sends on the delivery queue."""

from __future__ import annotations

import contextlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.journey_schedule import journey_sweep_schedule, journey_sweep_schedule_id
from core.settings import Settings
from domain.journey_time import local_date, zone
from domain.journeys import EnrolmentState
from domain.search_attributes import JOURNEY_ID, PARTNER_ID
from registry import queues
from scripts.demo.journeys import (
    birthday_contact,
    birthday_journey,
    birthday_spec,
    open_day_version,
)
from storage.local import LocalBlobStore
from tests.journeys.run_helpers import enrolments, month_day, outbox_to, partner
from workflows.journey_sweep import JourneySweepWorkflow


def test_the_sweep_schedule_follows_its_setting(settings: Settings) -> None:
    schedule = journey_sweep_schedule(settings.model_copy(update={"journey_sweep_interval": 120}))
    assert [i.every for i in schedule.spec.intervals] == [timedelta(minutes=2)]
    assert schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.task_queue) == (
        "JourneySweepWorkflow",
        settings.temporal_task_queue,
    )


async def test_a_scheduled_sweep_runs_on_the_registry_s_queues(
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    demo: Engine,
    checkpoint_store: LocalBlobStore,
) -> None:
    queue = f"test-{uuid.uuid4().hex[:10]}"
    local = settings.model_copy(
        update={
            "temporal_task_queue": queue,
            "temporal_delivery_task_queue": f"{queue}-delivery",
            "temporal_documents_task_queue": f"{queue}-documents",
            "journey_quiet_start": time(0, 0),  # none: the send goes whenever the test runs
            "journey_quiet_end": time(0, 0),
        }
    )
    today = local_date(datetime.now(UTC), zone("Europe/Amsterdam"))
    with Session(demo) as s:
        ams = partner(s)
        version = open_day_version(s, ams.brand_id)
        act = birthday_journey(s, ams, birthday_spec(version.id or 0, local_time=time(0, 0)))
        journey_id, partner_id = act.journey_id, act.partner_id
        birthday_contact(s, ams, "today@example.net", month_day(today))
        s.commit()
    client = workflow_env.client
    with ThreadPoolExecutor(8) as pool:
        async with contextlib.AsyncExitStack() as running:
            for spec in queues(local, demo, checkpoint_store=checkpoint_store):
                if not spec.empty:
                    await running.enter_async_context(
                        Worker(
                            client,
                            task_queue=spec.task_queue,
                            workflows=spec.workflows,
                            activities=spec.activities,
                            activity_executor=pool,
                        )
                    )
            swept = await client.execute_workflow(
                JourneySweepWorkflow.run, id=journey_sweep_schedule_id(local), task_queue=queue
            )
            assert (swept.enrolled, swept.started) == (1, 1)
            (row,) = enrolments(demo)
            handle = client.get_workflow_handle(row.workflow_id)
            assert await handle.result() == "completed"
            described = await handle.describe()
    assert described.task_queue == queue
    found = described.typed_search_attributes
    assert found.get(JOURNEY_ID) == str(journey_id) and found.get(PARTNER_ID) == str(partner_id)
    (row,) = enrolments(demo)
    assert row.state == EnrolmentState.completed
    assert outbox_to(demo) == ["today@example.net"]
