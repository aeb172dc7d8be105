"""A series' Temporal Schedule: made from its recurrence in its zone, paused and resumed with it,
triggered by hand, deleted when it ends.

Overlap SKIP (an occurrence still being opened is never doubled) and a short catch-up window:
after an outage of up to CATCHUP the missed occurrence still fires, a longer outage fires no
backlog of stale campaigns (HQ triggers one by hand if it still wants it). The action starts
SeriesOccurrenceWorkflow, whose workflow id is the schedule id plus Temporal's timestamp.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.workflow_ids import series_schedule_id
from models.recurrence import Recurrence, calendar_of
from models.series import CampaignSeries
from models.series_io import SeriesOccurrenceInput
from workflows.series_occurrence import SeriesOccurrenceWorkflow

CATCHUP = timedelta(hours=12)
RUN_TIMEOUT = timedelta(hours=1)


def _ranges(values: list[int]) -> list[ScheduleRange]:
    """Consecutive runs as ranges: [1..7] is one range, as the Temporal UI shows it."""
    out: list[ScheduleRange] = []
    for v in values:
        if out and out[-1].end == v - 1:
            out[-1] = ScheduleRange(out[-1].start, v)
        else:
            out.append(ScheduleRange(v, v))
    return out


def schedule_calendar(recurrence: Recurrence) -> ScheduleCalendarSpec:
    cal = calendar_of(recurrence)
    return ScheduleCalendarSpec(
        second=[ScheduleRange(0)],
        minute=_ranges(cal.minutes),
        hour=_ranges(cal.hours),
        day_of_month=_ranges(cal.days),
        month=_ranges(cal.months),
        day_of_week=_ranges(cal.weekdays),
        comment=recurrence.describe(),
    )


def series_schedule(series: CampaignSeries, task_queue: str) -> Schedule:
    assert series.id is not None
    recurrence = Recurrence.model_validate(series.recurrence)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SeriesOccurrenceWorkflow.run,
            SeriesOccurrenceInput(series_id=series.id),
            id=series_schedule_id(series.id),
            task_queue=task_queue,
            execution_timeout=RUN_TIMEOUT,
            static_summary=f"Occurrence of the series {series.name}",
        ),
        spec=ScheduleSpec(
            calendars=[schedule_calendar(recurrence)], time_zone_name=series.timezone
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP),
        state=ScheduleState(
            note=f"campaign series {series.id}: {recurrence.describe()}",
            paused=series.state != "active",
        ),
    )


async def create(client: Client, series: CampaignSeries, task_queue: str) -> bool:
    """True when made now; False when one existed under the id (a retried create, or one left
    by a database that was reset): it is brought in line with the series."""
    assert series.id is not None
    wanted = series_schedule(series, task_queue)
    try:
        await client.create_schedule(series_schedule_id(series.id), wanted)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=wanted)

        await client.get_schedule_handle(series_schedule_id(series.id)).update(replace)
        return False
    return True


async def pause(client: Client, series: CampaignSeries, note: str) -> None:
    assert series.id is not None
    await client.get_schedule_handle(series_schedule_id(series.id)).pause(note=note)


async def resume(client: Client, series: CampaignSeries, task_queue: str, note: str) -> None:
    """Unpause; a schedule that is missing (its creation failed) is made again."""
    assert series.id is not None
    handle = client.get_schedule_handle(series_schedule_id(series.id))
    try:
        await handle.unpause(note=note)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        await create(client, series, task_queue)


async def delete(client: Client, series_id: int) -> bool:
    """False when there was none (deleted already)."""
    try:
        await client.get_schedule_handle(series_schedule_id(series_id)).delete()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return False
    return True


async def next_action_times(client: Client, series_id: int) -> list[datetime]:
    """What Temporal will fire next (the Schedule's description)."""
    described = await client.get_schedule_handle(series_schedule_id(series_id)).describe()
    return list(described.info.next_action_times)
