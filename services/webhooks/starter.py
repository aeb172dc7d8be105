"""Starting or nudging an endpoint's workflow (signal-with-start), from the API after its
commit, from the worker when it starts and from the sweep schedule (workflows/webhook_sweep.py)."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from core.temporal import SERVICE_DOWN
from domain.workflow_ids import webhook_endpoint_workflow_id
from models.webhook_io import WebhookEndpointInput
from models.webhooks import WebhookEndpoint
from workflows.webhook_endpoint import WebhookEndpointWorkflow

log = logging.getLogger(__name__)


async def nudge(client: Client, task_queue: str, endpoint_id: int) -> bool:
    """Signal the running workflow, or start it with the signal; False (logged) when the
    Temporal service cannot be reached: the next sweep (or worker start) starts it."""
    try:
        await client.start_workflow(
            WebhookEndpointWorkflow.run,
            WebhookEndpointInput(endpoint_id=endpoint_id),
            id=webhook_endpoint_workflow_id(endpoint_id),
            task_queue=task_queue,
            start_signal="nudge",
            static_summary=f"Webhook endpoint {endpoint_id}",
        )
    except SERVICE_DOWN as err:
        log.warning("webhook endpoint %s: workflow not nudged: %s", endpoint_id, err)
        return False
    return True


async def start_enabled(client: Client, task_queue: str, engine: Engine) -> int:
    """Every enabled endpoint's workflow runs (a start the API could not make is made here)."""
    ids = await asyncio.to_thread(_enabled_ids, engine)
    started = 0
    for endpoint_id in ids:
        if endpoint_id is not None and await nudge(client, task_queue, endpoint_id):
            started += 1
    return started


def _enabled_ids(engine: Engine) -> list[int | None]:
    with Session(engine) as session:
        return list(
            session.exec(select(WebhookEndpoint.id).where(col(WebhookEndpoint.enabled))).all()
        )
