"""What the run-side journey tests share: Amsterdam, its birthday journey, contacts, a
worker for the journey workflows with the real activities and the embedded outbox."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import date, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.journeys import JourneyActivities
from core.settings import Settings
from mail.transport import MessageSender, make_transport
from models.journey_io import JourneySweepInput, JourneySweepResult
from models.journeys import JourneyEnrolment, JourneySend
from models.org import Partner
from models.outbox import OutboxMessage
from workflows.journey_contact import JourneyContactWorkflow
from workflows.journey_sweep import JourneySweepWorkflow


def partner(session: Session, slug: str = "amsterdam") -> Partner:
    return session.exec(select(Partner).where(Partner.slug == slug)).one()


def month_day(today: date, year: int = 1990) -> str:
    return today.replace(year=year).isoformat()


@asynccontextmanager
async def journey_worker(
    client: Client, engine: Engine, settings: Settings, transport: MessageSender | None = None
) -> AsyncIterator[str]:
    """A worker for the sweep, the contact workflows and their activities on one queue."""
    queue = f"journeys-{uuid.uuid4().hex[:8]}"
    acts = JourneyActivities(engine, settings, transport or make_transport(settings, engine))
    with ThreadPoolExecutor(8) as pool:
        async with Worker(
            client,
            task_queue=queue,
            workflows=[JourneySweepWorkflow, JourneyContactWorkflow],
            activities=[
                acts.journey_activations_to_sweep,
                acts.enrol_journey_page,
                acts.load_journey_plan,
                acts.check_journey_step,
                acts.send_journey_step,
                acts.finish_journey_enrolment,
            ],
            activity_executor=pool,
        ):
            yield queue


async def sweep(env: WorkflowEnvironment, queue: str, at: datetime) -> JourneySweepResult:
    """One sweep at `at`, without skipping time meanwhile: the contacts' timers must not fire
    while the test still sets the scene."""
    with env.auto_time_skipping_disabled():
        return await env.client.execute_workflow(
            JourneySweepWorkflow.run,
            JourneySweepInput(at=at, contact_task_queue=queue, send_task_queue=queue),
            id=f"sweep-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )


def enrolments(engine: Engine) -> list[JourneyEnrolment]:
    with Session(engine) as s:
        return list(s.exec(select(JourneyEnrolment).order_by(col(JourneyEnrolment.id))).all())


def sends(engine: Engine) -> list[JourneySend]:
    with Session(engine) as s:
        return list(s.exec(select(JourneySend).order_by(col(JourneySend.id))).all())


def outbox_to(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return sorted(s.exec(select(OutboxMessage.to)).all())
