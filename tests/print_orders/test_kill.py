"""The kill test: the worker process is killed (SIGKILL) while it submits the order to the
vendor (the simulator has taken the order and answers slowly); a new worker process resumes
and exactly one vendor order exists, the one the print order records."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from core.settings import PROJECT_ROOT, Settings
from domain.workflow_ids import claim_workflow_id
from models.claims import Claim
from models.print_orders import PrintOrder
from storage.local import LocalBlobStore
from tests.print_orders.conftest import (
    flyer_pc,
    order_body,
    running_stack,
    set_faults,
    vendor_orders,
    wait_for_approval,
    wait_for_state,
)

pytestmark = pytest.mark.e2e


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
            "PRINT_VENDOR_URL": settings.print_vendor_url,
            "PRINT_VENDOR_TIMEOUT": str(settings.print_vendor_timeout),
            "PRINT_VENDOR_SECRET": settings.print_vendor_secret.get_secret_value(),
            "PUBLIC_BASE_URL": settings.public_base_url,
            "APP_ENV": "test",
            "LOG_LEVEL": "WARNING",
            "WORKER_SHUTDOWN_GRACE": "1",
        }
    )
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "worker.py"], cwd=PROJECT_ROOT, env=out, stdout=sink, stderr=sink
        )


async def test_a_worker_killed_while_submitting_makes_exactly_one_vendor_order(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    demo: Engine,
    checkpoint_store: LocalBlobStore,
    blob_store: LocalBlobStore,
    simulator: str,
    login: Callable[[str], dict[str, str]],
    tmp_path: Path,
) -> None:
    pc_id = flyer_pc(demo)
    set_faults(simulator, delay_seconds=4)  # the vendor takes the order, then answers late
    async with running_stack(
        dev_env.client, settings, demo, checkpoint_store, blob_store, simulator, workers=False
    ) as stack:
        first = _worker(stack.settings, dev_env, tmp_path / "worker.log")
        second: subprocess.Popen[bytes] | None = None
        po = 0
        try:
            created = await stack.http.post(
                "/api/v1/print-orders",
                json=order_body(pc_id),
                headers=login("editor.amsterdam@northwind.example"),
            )
            assert created.status_code == 201, created.text
            po = created.json()["id"]
            await wait_for_approval(demo, po)
            decided = await stack.http.post(
                f"/api/v1/print-orders/{po}/decide",
                json={"decision": "approve"},
                headers=login("gm.amsterdam@northwind.example"),
            )
            assert decided.status_code == 200, decided.text
            submitting = await wait_for_state(demo, po, {"submitting"})
            for _ in range(300):  # until the vendor holds the order it has not answered yet
                if vendor_orders(simulator, submitting.vendor_key):
                    break
                await asyncio.sleep(0.05)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            with Session(demo) as s:
                order = s.get(PrintOrder, po)
                assert order is not None
                assert order.state.value == "submitting" and order.vendor_order_id == ""
            set_faults(simulator)
            second = _worker(stack.settings, dev_env, tmp_path / "worker.log")
            done = await wait_for_state(demo, po, {"delivered", "failed"}, seconds=120)
        finally:
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
            if po:
                # The worker process runs the real start_claim: end its claim
                # too, so no workflow outlives the test on the shared dev server.
                with Session(demo) as s:
                    claim_ids = s.exec(select(Claim.id).where(Claim.print_order_id == po)).all()
                for wid in (f"print-order-{po}", *(claim_workflow_id(c or 0) for c in claim_ids)):
                    with contextlib.suppress(Exception):
                        await dev_env.client.get_workflow_handle(wid).terminate()
    assert done.state.value == "delivered", done.error
    placed = vendor_orders(simulator, done.vendor_key)
    assert len(placed) == 1
    assert placed[0]["id"] == done.vendor_order_id
