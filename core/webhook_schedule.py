"""The Temporal Schedule that sweeps the webhook endpoints every WEBHOOK_SWEEP_INTERVAL
(workflows/webhook_sweep.py), ensured by the worker serving the orchestration queue when it
starts (core/interval_schedule.py says how: created and run at once, updated, left alone or
deleted at 0)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, Schedule

from core.interval_schedule import ScheduleOutcome, ensure_schedule, interval_schedule
from core.settings import Settings
from workflows.webhook_sweep import WebhookSweepWorkflow

RUN_TIMEOUT = timedelta(minutes=30)
# After an outage one run is enough: each run nudges every enabled endpoint.
CATCHUP_WINDOW = timedelta(minutes=1)


def webhook_sweep_schedule_id(settings: Settings) -> str:
    """One schedule per orchestration queue, so deployments sharing a namespace stay apart."""
    return f"webhook-sweep-{settings.temporal_task_queue}"


def webhook_sweep_schedule(settings: Settings) -> Schedule:
    return interval_schedule(
        WebhookSweepWorkflow.run,
        webhook_sweep_schedule_id(settings),
        settings.temporal_task_queue,
        settings.webhook_sweep_interval,
        RUN_TIMEOUT,
        CATCHUP_WINDOW,
    )


async def ensure_webhook_sweep_schedule(client: Client, settings: Settings) -> ScheduleOutcome:
    wanted = webhook_sweep_schedule(settings) if settings.webhook_sweep_interval else None
    return await ensure_schedule(client, webhook_sweep_schedule_id(settings), wanted)
