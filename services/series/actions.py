"""A series' changes together with its Schedule, as the API and the portal both make them:
the row changes first (flushed), then the Schedule, then the commit, so a Schedule that
cannot be reached leaves nothing changed (the caller answers 503)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum

from sqlmodel import Session
from temporalio.client import Client

from models.series import CampaignSeries
from models.series_schemas import SeriesCreate
from services.org import Actor
from services.series import schedules, store


class Change(StrEnum):
    pause = "pause"
    resume = "resume"
    skip_next = "skip-next"
    end = "end"


Connect = Callable[[], Awaitable[Client]]


async def create(
    session: Session, connect: Connect, actor: Actor, body: SeriesCreate, task_queue: str
) -> CampaignSeries:
    """Temporal is connected (`connect`) only once the series passed every check, so a
    refusal never waits on (or depends on) the server."""
    series = store.create_series(session, actor, body)
    await schedules.create(await connect(), series, task_queue)
    session.commit()
    return series


async def change(
    session: Session,
    connect: Connect,
    actor: Actor,
    series: CampaignSeries,
    what: Change,
    task_queue: str,
) -> CampaignSeries:
    """The row's rules first (409 without touching Temporal), then the Schedule; skipping
    ahead changes no Schedule (the occurrence records the skip when it comes)."""
    who = actor.principal.email
    if what == Change.skip_next:
        store.skip_next(session, actor, series)
    elif what == Change.pause:
        store.pause(session, actor, series)
        await schedules.pause(await connect(), series, f"paused by {who}")
    elif what == Change.resume:
        store.resume(session, actor, series)
        await schedules.resume(await connect(), series, task_queue, f"resumed by {who}")
    else:
        store.end(session, actor, series)
        await schedules.delete(await connect(), series.id or 0)
    session.commit()
    return series
