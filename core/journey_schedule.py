"""The Temporal Schedule that sweeps active journeys every JOURNEY_SWEEP_INTERVAL
(workflows/journey_sweep.py), ensured by the worker serving the orchestration queue when it
starts (core/interval_schedule.py says how: created and run at once, updated, left alone or
deleted at 0)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, Schedule

from core.interval_schedule import ScheduleOutcome, ensure_schedule, interval_schedule
from core.settings import Settings
from workflows.journey_sweep import JourneySweepWorkflow

RUN_TIMEOUT = timedelta(hours=1)
# After an outage one run is enough: each run enrols everyone due now (dates: today's).
CATCHUP_WINDOW = timedelta(minutes=1)


def journey_sweep_schedule_id(settings: Settings) -> str:
    """One schedule per orchestration queue, so deployments sharing a namespace stay apart."""
    return f"journey-sweep-{settings.temporal_task_queue}"


def journey_sweep_schedule(settings: Settings) -> Schedule:
    return interval_schedule(
        JourneySweepWorkflow.run,
        journey_sweep_schedule_id(settings),
        settings.temporal_task_queue,
        settings.journey_sweep_interval,
        RUN_TIMEOUT,
        CATCHUP_WINDOW,
    )


async def ensure_journey_sweep_schedule(client: Client, settings: Settings) -> ScheduleOutcome:
    wanted = journey_sweep_schedule(settings) if settings.journey_sweep_interval else None
    return await ensure_schedule(client, journey_sweep_schedule_id(settings), wanted)
