"""The kill test: a worker process running a birthday morning is killed (SIGKILL) while the
journey's sends are in flight; a new worker process takes over and every contact still gets
exactly one message, each recorded once in the ledger."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from core.settings import PROJECT_ROOT, Settings
from domain.journey_time import local_date, zone
from domain.journeys import EnrolmentState
from domain.states import DeliveryStatus
from models.journey_io import JourneySweepInput
from models.journeys import JourneyEnrolment, JourneySend
from scripts.demo.journeys import (
    birthday_contact,
    birthday_journey,
    birthday_spec,
    open_day_version,
)
from tests.journeys.run_helpers import enrolments, month_day, outbox_to, partner, sends
from workflows.journey_sweep import JourneySweepWorkflow

pytestmark = pytest.mark.e2e
CONTACTS = 40


def _worker(settings: Settings, env: WorkflowEnvironment, log: Path) -> subprocess.Popen[bytes]:
    out = dict(os.environ)
    out.update(
        {
            "DATABASE_URL": settings.resolved_database_url,
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
            "TEMPORAL_DELIVERY_TASK_QUEUE": settings.temporal_delivery_task_queue,
            "TEMPORAL_DOCUMENTS_TASK_QUEUE": settings.temporal_documents_task_queue,
            "DATA_DIR": str(settings.data_dir),
            "SECRET_KEY": settings.secret_key.get_secret_value(),
            "PUBLIC_BASE_URL": settings.public_base_url,
            "APP_ENV": "test",
            "LOG_LEVEL": "WARNING",
            "WORKER_SHUTDOWN_GRACE": "1",
            # No schedules of this worker on the shared dev server; no quiet hours tonight.
            "JOURNEY_SWEEP_INTERVAL": "0",
            "REPORT_ROLLUP_INTERVAL": "0",
            "WEBHOOK_SWEEP_INTERVAL": "0",
            "AUDIT_CHECKPOINT_INTERVAL": "0",
            "JOURNEY_QUIET_START": "00:00",
            "JOURNEY_QUIET_END": "00:00",
        }
    )
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "worker.py"], cwd=PROJECT_ROOT, env=out, stdout=sink, stderr=sink
        )


def _count(engine: Engine, *where: object) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(JourneySend).where(*where)).one())


def _ended(engine: Engine) -> int:
    with Session(engine) as s:
        return int(
            s.exec(
                select(func.count())
                .select_from(JourneyEnrolment)
                .where(JourneyEnrolment.state != EnrolmentState.running)
            ).one()
        )


async def test_a_worker_killed_mid_sends_still_sends_one_message_per_contact(
    dev_env: WorkflowEnvironment, settings: Settings, demo: Engine, tmp_path: Path
) -> None:
    queue = f"jkill-{uuid.uuid4().hex[:8]}"
    local = settings.model_copy(
        update={
            "temporal_task_queue": queue,
            "temporal_delivery_task_queue": f"{queue}-delivery",
            "temporal_documents_task_queue": f"{queue}-documents",
        }
    )
    ams_zone = zone("Europe/Amsterdam")
    today = local_date(datetime.now(UTC), ams_zone)
    with Session(demo) as s:
        ams = partner(s)
        version = open_day_version(s, ams.brand_id)
        # From midnight: every contact is due at once, the sends run together.
        birthday_journey(s, ams, birthday_spec(version.id or 0, local_time=time(0, 0)))
        for i in range(CONTACTS):
            birthday_contact(s, ams, f"guest{i:03d}@example.net", month_day(today, 1980 + i))
        s.commit()
    log = tmp_path / "worker.log"
    first = _worker(local, dev_env, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        swept = await dev_env.client.execute_workflow(
            JourneySweepWorkflow.run,
            JourneySweepInput(),
            id=f"journey-sweep-{queue}",
            task_queue=queue,
        )
        assert swept.started == CONTACTS
        for _ in range(600):  # until the first message is on its way
            if _count(demo) > 0:
                break
            await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert _ended(demo) < CONTACTS, "the kill came after the morning's work"
        second = _worker(local, dev_env, log)
        for _ in range(900):
            if _ended(demo) == CONTACTS:
                break
            await asyncio.sleep(0.2)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        for e in enrolments(demo):
            if e.state == EnrolmentState.running and e.workflow_id:
                with contextlib.suppress(Exception):
                    await dev_env.client.get_workflow_handle(e.workflow_id).terminate()
    assert [e.state for e in enrolments(demo)] == [EnrolmentState.completed] * CONTACTS
    ledger = sends(demo)
    assert len(ledger) == CONTACTS
    assert {r.status for r in ledger} == {DeliveryStatus.sent}
    to = outbox_to(demo)
    assert len(to) == CONTACTS and len(set(to)) == CONTACTS  # one message each
