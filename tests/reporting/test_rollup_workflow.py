"""ReportRollupWorkflow with its real activities and database: every brand rolled up to the
workflow's today, a failing brand reported without stopping the others; its saved history
replays; the schedule is created, updated and removed like the audit checkpoint schedule."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.client import ScheduleActionStartWorkflow, ScheduleOverlapPolicy, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from activities.reporting import ReportActivities
from core.audit_schedule import ScheduleOutcome
from core.report_schedule import (
    CATCHUP_WINDOW,
    ensure_report_schedule,
    report_schedule,
    report_schedule_id,
)
from core.settings import Settings
from models.report_rollup_io import BrandRollup, BrandRollupInput, ReportRollupSummary
from models.reporting import RollupWatermark
from registry import queues
from tests.reporting.test_rollup import add_fact, brand_id, metric_total
from workflows.report_rollup import ROLL_UP_BRAND, ReportRollupWorkflow

HISTORIES = Path(__file__).parents[1] / "histories"
Record = Callable[[str, str], Awaitable[None]]


class OneBrandBroken(ReportActivities):
    """The real activities, except that one brand's rollup keeps failing (a database fault
    confined to that brand's data)."""

    def __init__(self, engine: Engine, broken: int) -> None:
        super().__init__(engine)
        self.broken = broken
        self.attempts = 0

    @activity.defn(name=ROLL_UP_BRAND)
    def roll_up_brand(self, job: BrandRollupInput) -> BrandRollup:
        if job.brand_id == self.broken:
            self.attempts += 1
            raise RuntimeError(f"brand {job.brand_id}: relation is locked")
        return super().roll_up_brand(job)


async def test_every_brand_is_rolled_up_and_a_failing_one_is_reported(
    workflow_env: WorkflowEnvironment, demo: Engine, record_history: Record
) -> None:
    north, contoso = brand_id(demo, "northwind"), brand_id(demo, "contoso")
    # The workflow's today is the time-skipping server's, which runs ahead of the wall clock
    # once time has been skipped.
    now = max(await workflow_env.get_current_time(), datetime.now(UTC))
    add_fact(demo, north, now - timedelta(days=2))
    add_fact(demo, contoso, now - timedelta(days=1))
    acts = OneBrandBroken(demo, broken=contoso)
    queue = f"rollup-{uuid.uuid4().hex[:8]}"
    workflow_id = f"report-rollup-test-{uuid.uuid4().hex[:6]}"
    with ThreadPoolExecutor(4) as pool:
        async with Worker(
            workflow_env.client,
            task_queue=queue,
            workflows=[ReportRollupWorkflow],
            activities=[acts.report_brands_to_roll, acts.roll_up_brand],
            activity_executor=pool,
        ):
            result = await workflow_env.client.execute_workflow(
                ReportRollupWorkflow.run, id=workflow_id, task_queue=queue
            )
    await record_history(workflow_id, "report_rollup_one_brand_failed")
    assert isinstance(result, ReportRollupSummary)
    today = result.today
    assert now.date() <= today <= (now + timedelta(days=1)).date()  # retries skip ~35 s
    by_brand = {b.brand_id: b for b in result.brands}
    assert set(by_brand) == {north, contoso}
    assert by_brand[north].error is None and by_brand[north].closed_until == today
    assert by_brand[north].rows > 0 and metric_total(demo, north, "event.submit") == 1
    failed = by_brand[contoso]
    assert failed.error is not None and "relation is locked" in failed.error
    assert [b.brand_id for b in result.failed] == [contoso]
    assert acts.attempts == 4  # retried with backoff before giving up
    with Session(demo) as s:
        assert s.get(RollupWatermark, north) is not None
        assert s.get(RollupWatermark, contoso) is None
        assert metric_total(demo, contoso, "event.submit") == 0


async def test_the_registered_worker_runs_the_rollup(
    workflow_env: WorkflowEnvironment, demo: Engine, settings: Settings
) -> None:
    """As the schedule starts it: registry's orchestration queue serves the workflow and its
    activities."""
    north = brand_id(demo, "northwind")
    # A fact a day before the server's today, so the run closes days, not the years the
    # server's clock has skipped ahead.
    now = max(await workflow_env.get_current_time(), datetime.now(UTC))
    add_fact(demo, north, now - timedelta(days=1))
    queue = f"test-{uuid.uuid4().hex[:10]}"
    local = settings.model_copy(update={"temporal_task_queue": queue})
    spec = next(s for s in queues(local, demo) if s.task_queue == queue)
    with ThreadPoolExecutor(4) as pool:
        async with Worker(
            workflow_env.client,
            task_queue=queue,
            workflows=spec.workflows,
            activities=spec.activities,
            activity_executor=pool,
        ):
            result = await workflow_env.client.execute_workflow(
                ReportRollupWorkflow.run, id=f"rollup-{queue}", task_queue=queue
            )
    assert not result.failed and len(result.brands) == 2
    assert metric_total(demo, north, "event.submit") == 1


async def test_saved_rollup_history_replays() -> None:
    name = "report_rollup_one_brand_failed"
    history = WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
    await Replayer(
        workflows=[ReportRollupWorkflow], data_converter=pydantic_data_converter
    ).replay_workflow(history)


def test_the_schedule_skips_overlaps_and_catches_up_briefly(settings: Settings) -> None:
    schedule = report_schedule(settings)
    assert schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert schedule.policy.catchup_window == CATCHUP_WINDOW == timedelta(minutes=10)
    assert [i.every for i in schedule.spec.intervals] == [timedelta(hours=1)]


async def test_the_rollup_schedule_is_created_once_and_follows_the_settings(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    local = settings.model_copy(update={"temporal_task_queue": f"test-{uuid.uuid4().hex[:10]}"})
    client = dev_env.client
    schedule_id = report_schedule_id(local)
    assert schedule_id == f"report-rollup-{local.temporal_task_queue}"
    assert await ensure_report_schedule(client, local) == ScheduleOutcome.created
    assert await ensure_report_schedule(client, local) == ScheduleOutcome.unchanged

    described = (await client.get_schedule_handle(schedule_id).describe()).schedule
    assert [i.every for i in described.spec.intervals] == [timedelta(hours=1)]
    assert described.policy.overlap == ScheduleOverlapPolicy.SKIP
    action = described.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.task_queue) == (
        "ReportRollupWorkflow",
        local.temporal_task_queue,
    )

    faster = local.model_copy(update={"report_rollup_interval": 900})
    assert await ensure_report_schedule(client, faster) == ScheduleOutcome.updated
    assert await ensure_report_schedule(client, faster) == ScheduleOutcome.unchanged
    described = (await client.get_schedule_handle(schedule_id).describe()).schedule
    assert [i.every for i in described.spec.intervals] == [timedelta(minutes=15)]

    off = local.model_copy(update={"report_rollup_interval": 0})
    assert await ensure_report_schedule(client, off) == ScheduleOutcome.deleted
    assert await ensure_report_schedule(client, off) == ScheduleOutcome.off


async def test_temporal_setup_ensures_the_rollup_schedule(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    queue = f"test-{uuid.uuid4().hex[:10]}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "APP_ENV": "test",
        "DATABASE_URL": settings.resolved_database_url,
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": queue,
        "REPORT_ROLLUP_INTERVAL": "7200",
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "core.temporal_setup"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"reporting rollup schedule report-rollup-{queue}: created" in done.stdout
    handle = dev_env.client.get_schedule_handle(f"report-rollup-{queue}")
    described = (await handle.describe()).schedule
    assert [i.every for i in described.spec.intervals] == [timedelta(hours=2)]
    await handle.delete()
