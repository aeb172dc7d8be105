"""Temporal Schedules that start one workflow every N seconds, kept in line with the settings.

A worker ensures its schedules when it starts: created the first time (and run at once, so a
fresh or upgraded install does the work right away), brought in line when the interval, queue,
run timeout or policy changed, left alone otherwise, deleted when the interval is 0. Several
workers starting together race harmlessly: the losers find the schedule and compare it.

Every schedule here skips a run while the previous one is still going (overlap SKIP) and has a
short catch-up window: each run does all the work still open, so one run after an outage is
enough.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum
from typing import Any

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


class ScheduleOutcome(StrEnum):
    created = "created"
    updated = "updated"
    unchanged = "unchanged"
    deleted = "deleted"
    off = "off"


def interval_schedule(
    workflow: Callable[..., Any],
    schedule_id: str,
    task_queue: str,
    every_seconds: int,
    run_timeout: timedelta,
    catchup_window: timedelta,
) -> Schedule:
    """The schedule's workflow id is the schedule id (Temporal appends the start time)."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            workflow,
            id=schedule_id,
            task_queue=task_queue,
            execution_timeout=run_timeout,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=every_seconds))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=catchup_window),
    )


def _same(current: Schedule, wanted: Schedule) -> bool:
    have, want = current.action, wanted.action
    if not isinstance(have, ScheduleActionStartWorkflow):
        return False
    assert isinstance(want, ScheduleActionStartWorkflow)
    return (
        have.workflow == want.workflow
        and have.task_queue == want.task_queue
        and have.execution_timeout == want.execution_timeout
        and [i.every for i in current.spec.intervals] == [i.every for i in wanted.spec.intervals]
        and current.policy.overlap == wanted.policy.overlap
        and current.policy.catchup_window == wanted.policy.catchup_window
    )


async def ensure_schedule(
    client: Client, schedule_id: str, wanted: Schedule | None
) -> ScheduleOutcome:
    """`wanted` None: the schedule is switched off (deleted when it exists)."""
    handle = client.get_schedule_handle(schedule_id)
    if wanted is None:
        try:
            await handle.delete()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            return ScheduleOutcome.off
        return ScheduleOutcome.deleted
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
