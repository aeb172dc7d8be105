"""A series' changes together with its Schedule, as the API and the portal both make them:
the row changes first (flushed), then the Schedule, then the commit, so a Schedule that
cannot be reached leaves nothing changed (the caller answers 503)."""

from __future__ import annotations

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


async def create(
    session: Session, client: Client, actor: Actor, body: SeriesCreate, task_queue: str
) -> CampaignSeries:
    series = store.create_series(session, actor, body)
    await schedules.create(client, series, task_queue)
    session.commit()
    return series


async def change(
    session: Session,
    client: Client | None,
    actor: Actor,
    series: CampaignSeries,
    what: Change,
    task_queue: str,
) -> CampaignSeries:
    """`client` may be None only for skip_next (no Schedule change)."""
    who = actor.principal.email
    if what == Change.skip_next:
        store.skip_next(session, actor, series)  # the occurrence records the skip itself
        session.commit()
        return series
    assert client is not None
    if what == Change.pause:
        store.pause(session, actor, series)
        await schedules.pause(client, series, f"paused by {who}")
    elif what == Change.resume:
        store.resume(session, actor, series)
        await schedules.resume(client, series, task_queue, f"resumed by {who}")
    else:
        store.end(session, actor, series)
        await schedules.delete(client, series.id or 0)
    session.commit()
    return series
