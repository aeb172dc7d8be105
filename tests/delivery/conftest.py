"""The delivery tests' worker for SendWorkflow and its activities, shared by their files."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.delivery import DeliveryActivities
from core.settings import Settings
from workflows.send import SendWorkflow


@pytest.fixture
def delivery_worker(
    workflow_env: WorkflowEnvironment, demo: Engine, settings: Settings
) -> Callable[[Any], Any]:
    """A worker for SendWorkflow and its activities with a scripted transport."""

    def make(transport: Any, sms_transport: Any = None) -> Any:
        queue = f"send-{uuid.uuid4().hex[:8]}"
        acts = DeliveryActivities(demo, settings, transport, sms_transport)
        return queue, Worker(
            workflow_env.client,
            task_queue=queue,
            workflows=[SendWorkflow],
            activities=[
                acts.snapshot_audience,
                acts.send_delivery_batch,
                acts.send_sms_batch,
                acts.delivery_counts,
                acts.notify_send_paused,
                acts.notify_send_late,
                acts.record_send_resumed,
            ],
            activity_executor=ThreadPoolExecutor(4),
        )

    return make
