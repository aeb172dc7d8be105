"""The worker process: clear failure when Temporal is unreachable, clean stop on SIGTERM,
and the registered activities working through a real Temporal server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.audit_schedule import checkpoint_schedule_id
from core.settings import PROJECT_ROOT, Settings
from models.audit import AuditEvent
from models.org import Brand
from models.workflow_io import AuditRecord
from registry import queues
from tests.free_ports import nowhere
from tests.helper_workflows import AuditTwiceWorkflow


def _worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "APP_ENV": "test",
        "DATABASE_URL": settings.resolved_database_url,
        "DATA_DIR": str(settings.data_dir),
        "LOG_LEVEL": "INFO",
    }
    env.update(extra)
    return env


def test_unreachable_server_gives_a_clear_message(settings: Settings) -> None:
    address = nowhere()
    proc = subprocess.run(
        [sys.executable, "worker.py"],
        cwd=PROJECT_ROOT,
        env=_worker_env(
            settings,
            TEMPORAL_ADDRESS=address,
            TEMPORAL_CONNECT_ATTEMPTS="2",
            TEMPORAL_CONNECT_BACKOFF="0.1",
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"Cannot reach the Temporal server at {address}" in proc.stderr
    assert "attempt 1/2" in proc.stderr


@pytest.mark.e2e
async def test_sigterm_stops_cleanly(settings: Settings, dev_env: WorkflowEnvironment) -> None:
    """Also: start-up creates the audit checkpoint, reporting rollup and webhook sweep
    schedules, and a second start keeps them."""
    address = dev_env.client.service_client.config.target_host
    queue = f"test-{uuid.uuid4().hex[:10]}"
    for start in ("created", "unchanged"):
        await asyncio.to_thread(_start_and_stop_worker, settings, address, queue, start)
    schedule_id = checkpoint_schedule_id(settings.model_copy(update={"temporal_task_queue": queue}))
    handle = dev_env.client.get_schedule_handle(schedule_id)
    description = await handle.describe()
    action = description.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow) and action.task_queue == queue
    await handle.delete()
    await dev_env.client.get_schedule_handle(f"report-rollup-{queue}").delete()
    await dev_env.client.get_schedule_handle(f"webhook-sweep-{queue}").delete()


def _start_and_stop_worker(settings: Settings, address: str, queue: str, schedule: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "worker.py"],
        cwd=PROJECT_ROOT,
        env=_worker_env(
            settings,
            TEMPORAL_ADDRESS=address,
            TEMPORAL_TASK_QUEUE=queue,
            WORKER_SHUTDOWN_GRACE="5",
        ),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    seen = ""
    while "worker polling" not in seen and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
    assert "worker polling" in seen, seen
    assert f"audit checkpoint schedule audit-checkpoints-{queue}: {schedule}" in seen, seen
    assert f"reporting rollup schedule report-rollup-{queue}: {schedule}" in seen, seen
    assert f"webhook sweep schedule webhook-sweep-{queue}: {schedule}" in seen, seen
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=30)
    assert proc.returncode == 0, rest
    assert "worker stopped cleanly" in rest


async def _run_audit_workflow(env: WorkflowEnvironment, settings: Settings, engine: Engine) -> None:
    with Session(engine) as session:
        brand = Brand(slug=f"b{uuid.uuid4().hex[:8]}", name="Test brand")
        session.add(brand)
        session.commit()
        brand_id = brand.id
    assert brand_id is not None
    spec = queues(settings, engine)[0]
    task_queue = f"test-{uuid.uuid4().hex}"
    with ThreadPoolExecutor(4) as pool:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[AuditTwiceWorkflow],
            activities=spec.activities,
            activity_executor=pool,
        ):
            record = AuditRecord(
                brand_id=brand_id,
                actor="system",
                action="test.happened",
                entity_type="test",
                entity_id="1",
                event_key=f"test:{uuid.uuid4().hex}",
                workflow_id="wf",
            )
            receipts = await env.client.execute_workflow(
                AuditTwiceWorkflow.run,
                record,
                id=f"audit-twice-{uuid.uuid4().hex}",
                task_queue=task_queue,
            )
    assert receipts[0] == receipts[1]
    with Session(engine) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.brand_id == brand_id)).all()
    assert [r.seq for r in rows] == [1]
    assert rows[0].workflow_id == "wf"


async def test_registered_audit_activity_on_workflow_env(
    workflow_env: WorkflowEnvironment, settings: Settings, db: Engine
) -> None:
    await _run_audit_workflow(workflow_env, settings, db)


@pytest.mark.e2e
async def test_registered_audit_activity_on_dev_server(
    dev_env: WorkflowEnvironment, settings: Settings, db: Engine
) -> None:
    await asyncio.wait_for(_run_audit_workflow(dev_env, settings, db), timeout=60)
