"""The Temporal Schedule that keeps the reporting aggregates current every
REPORT_ROLLUP_INTERVAL (hourly by default).

Ensured like the audit checkpoint schedule (core/audit_schedule.py): by the worker serving the
orchestration queue when it starts, and by `python -m core.temporal_setup`; created the first
time (and run at once, so a fresh install has its aggregates), brought in line when the
interval or queue changed, left alone otherwise, deleted when the interval is 0.

Overlap SKIP: a rollup still running when the next is due makes that one wait for the next
tick instead of racing it. Catch-up 10 minutes: after an outage one run is enough, since every
run closes all the days still open.
"""

from __future__ import annotations

from datetime import timedelta

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

from core.audit_schedule import ScheduleOutcome
from core.settings import Settings
from workflows.report_rollup import ReportRollupWorkflow

RUN_TIMEOUT = timedelta(hours=1)
CATCHUP_WINDOW = timedelta(minutes=10)


def report_schedule_id(settings: Settings) -> str:
    """One schedule per orchestration queue, so deployments sharing a namespace stay apart."""
    return f"report-rollup-{settings.temporal_task_queue}"


def report_schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReportRollupWorkflow.run,
            id=report_schedule_id(settings),
            task_queue=settings.temporal_task_queue,
            execution_timeout=RUN_TIMEOUT,
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(seconds=settings.report_rollup_interval))
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
        and have.execution_timeout == want.execution_timeout
        and [i.every for i in current.spec.intervals] == [i.every for i in wanted.spec.intervals]
        and current.policy.overlap == wanted.policy.overlap
        and current.policy.catchup_window == wanted.policy.catchup_window
    )


async def ensure_report_schedule(client: Client, settings: Settings) -> ScheduleOutcome:
    schedule_id = report_schedule_id(settings)
    handle = client.get_schedule_handle(schedule_id)
    if settings.report_rollup_interval == 0:
        try:
            await handle.delete()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            return ScheduleOutcome.off
        return ScheduleOutcome.deleted
    wanted = report_schedule(settings)
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
