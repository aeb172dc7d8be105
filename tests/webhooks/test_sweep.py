"""The sweep schedule starts the workflow of every enabled endpoint that has none running."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.client import WorkflowExecutionStatus as Status
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.settings import Settings
from core.webhook_schedule import webhook_sweep_schedule, webhook_sweep_schedule_id
from models.webhooks import WebhookEndpoint
from registry import queues
from services.webhooks.signing import new_secret
from tests.webhooks.events import brand_of
from workflows.webhook_sweep import WebhookSweepWorkflow

ADMIN = "admin@northwind.example"


async def test_a_sweep_starts_the_workflow_of_an_enabled_endpoint_that_has_none(
    workflow_env: WorkflowEnvironment, demo: Engine, settings: Settings
) -> None:
    with Session(demo) as session:
        rows = [
            WebhookEndpoint(
                brand_id=brand_of(demo, ADMIN),
                url="https://93.184.215.14/h",
                event_types=[],
                enabled=enabled,
                secret=new_secret(),
            )
            for enabled in (True, False)
        ]
        session.add_all(rows)
        session.commit()
        on, off = (r.id for r in rows)
    client = workflow_env.client
    with pytest.raises(RPCError):  # created while Temporal was out of reach: no workflow
        await client.get_workflow_handle(f"webhook-endpoint-{on}").describe()
    queue = f"test-wh-sweep-{uuid.uuid4().hex[:10]}"
    local = settings.model_copy(update={"temporal_task_queue": queue})
    spec = next(s for s in queues(local, demo) if s.task_queue == queue)
    with ThreadPoolExecutor(4) as pool:
        async with Worker(
            client,
            task_queue=queue,
            workflows=spec.workflows,
            activities=spec.activities,
            activity_executor=pool,
        ):
            # As the schedule starts it: registry's orchestration queue serves it.
            started = await client.execute_workflow(
                WebhookSweepWorkflow.run, id=webhook_sweep_schedule_id(local), task_queue=queue
            )
            described = await client.get_workflow_handle(f"webhook-endpoint-{on}").describe()
    assert started >= 1  # the demo's other enabled endpoints count too
    assert described.status == Status.RUNNING and described.task_queue == queue
    with pytest.raises(RPCError):
        await client.get_workflow_handle(f"webhook-endpoint-{off}").describe()


def test_the_sweep_schedule_follows_its_setting(settings: Settings) -> None:
    schedule = webhook_sweep_schedule(settings.model_copy(update={"webhook_sweep_interval": 120}))
    assert [i.every for i in schedule.spec.intervals] == [timedelta(minutes=2)]
    assert schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.task_queue) == (
        "WebhookSweepWorkflow",
        settings.temporal_task_queue,
    )
