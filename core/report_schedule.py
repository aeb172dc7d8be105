"""The Temporal Schedule that keeps the reporting aggregates current every
REPORT_ROLLUP_INTERVAL (hourly by default).

Ensured (core/interval_schedule.py says how) by the worker serving the orchestration queue when
it starts, and by `python -m core.temporal_setup`; run at once when created, so a fresh install
has its aggregates.

Overlap SKIP: a rollup still running when the next is due makes that one wait for the next
tick instead of racing it. Catch-up 10 minutes: after an outage one run is enough, since every
run closes all the days still open.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, Schedule

from core.interval_schedule import ScheduleOutcome, ensure_schedule, interval_schedule
from core.settings import Settings
from workflows.report_rollup import ReportRollupWorkflow

RUN_TIMEOUT = timedelta(hours=1)
CATCHUP_WINDOW = timedelta(minutes=10)


def report_schedule_id(settings: Settings) -> str:
    """One schedule per orchestration queue, so deployments sharing a namespace stay apart."""
    return f"report-rollup-{settings.temporal_task_queue}"


def report_schedule(settings: Settings) -> Schedule:
    return interval_schedule(
        ReportRollupWorkflow.run,
        report_schedule_id(settings),
        settings.temporal_task_queue,
        settings.report_rollup_interval,
        RUN_TIMEOUT,
        CATCHUP_WINDOW,
    )


async def ensure_report_schedule(client: Client, settings: Settings) -> ScheduleOutcome:
    wanted = report_schedule(settings) if settings.report_rollup_interval else None
    return await ensure_schedule(client, report_schedule_id(settings), wanted)
