"""The Temporal Schedule that anchors the audit chains every AUDIT_CHECKPOINT_INTERVAL,
ensured by the worker serving the orchestration queue when it starts (core/interval_schedule.py
says how: created, updated, left alone or deleted at 0)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, Schedule

from core.interval_schedule import ScheduleOutcome, ensure_schedule, interval_schedule
from core.settings import Settings
from workflows.audit_checkpoint import AuditCheckpointWorkflow

__all__ = ["ScheduleOutcome", "checkpoint_schedule", "checkpoint_schedule_id"]

# A run that hangs must not keep SKIP from starting the next ones for long.
RUN_TIMEOUT = timedelta(minutes=30)
# After an outage, one catch-up run is enough: a sweep anchors everything that moved.
CATCHUP_WINDOW = timedelta(minutes=1)


def checkpoint_schedule_id(settings: Settings) -> str:
    """One schedule per orchestration queue, so deployments sharing a namespace stay apart."""
    return f"audit-checkpoints-{settings.temporal_task_queue}"


def checkpoint_schedule(settings: Settings) -> Schedule:
    return interval_schedule(
        AuditCheckpointWorkflow.run,
        checkpoint_schedule_id(settings),
        settings.temporal_task_queue,
        settings.audit_checkpoint_interval,
        RUN_TIMEOUT,
        CATCHUP_WINDOW,
    )


async def ensure_checkpoint_schedule(client: Client, settings: Settings) -> ScheduleOutcome:
    wanted = checkpoint_schedule(settings) if settings.audit_checkpoint_interval else None
    return await ensure_schedule(client, checkpoint_schedule_id(settings), wanted)
