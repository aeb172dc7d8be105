"""The Temporal Schedule that anchors the audit chains every AUDIT_CHECKPOINT_INTERVAL.

The worker serving the orchestration queue makes sure it exists when it starts: created the
first time (and run at once, so an upgraded install is anchored right away), brought in line
with the settings when the interval or queue changed, left alone otherwise, deleted when the
interval is 0. Several workers starting together race harmlessly: the losers find the schedule
and compare it.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from core.settings import Settings
from workflows.audit_checkpoint import AuditCheckpointWorkflow

# A run that hangs must not keep SKIP from starting the next ones for long.
RUN_TIMEOUT = timedelta(minutes=30)
# After an outage, one catch-up run is enough: a sweep anchors everything that moved.
CATCHUP_WINDOW = timedelta(minutes=1)


class ScheduleOutcome(StrEnum):
    created = "created"
    updated = "updated"
    unchanged = "unchanged"
    deleted = "deleted"
    off = "off"


def checkpoint_schedule_id(settings: Settings) -> str:
    """One schedule per orchestration queue, so deployments sharing a namespace stay apart."""
    return f"audit-checkpoints-{settings.temporal_task_queue}"


def checkpoint_schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            AuditCheckpointWorkflow.run,
            id=checkpoint_schedule_id(settings),
            task_queue=settings.temporal_task_queue,
            execution_timeout=RUN_TIMEOUT,
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(seconds=settings.audit_checkpoint_interval))
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
    )


def _same(current: Schedule, wanted: Schedule) -> bool:
    have, want = current.action, wanted.action
    if not isinstance(have, ScheduleActionStartWorkflow):
        return False
    assert isinstance(want, ScheduleActionStartWorkflow)
    return (
        have.workflow == want.workflow
        and have.task_queue == want.task_queue
        and [i.every for i in current.spec.intervals] == [i.every for i in wanted.spec.intervals]
    )


async def ensure_checkpoint_schedule(client: Client, settings: Settings) -> ScheduleOutcome:
    schedule_id = checkpoint_schedule_id(settings)
    handle = client.get_schedule_handle(schedule_id)
    if settings.audit_checkpoint_interval == 0:
        try:
            await handle.delete()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            return ScheduleOutcome.off
        return ScheduleOutcome.deleted
    wanted = checkpoint_schedule(settings)
    try:
        await client.create_schedule(schedule_id, wanted, trigger_immediately=True)
        return ScheduleOutcome.created
    except ScheduleAlreadyRunningError:
        pass
    if _same((await handle.describe()).schedule, wanted):
        return ScheduleOutcome.unchanged

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=wanted)

    await handle.update(replace)
    return ScheduleOutcome.updated
