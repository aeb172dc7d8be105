"""Campaign series: HQ's recurring campaigns on Temporal Schedules, and the GMs' standing
approvals. docs/series.md describes the flow. The row changes first (flushed), then the
Schedule, then the commit: a Schedule that cannot be reached leaves nothing changed (503)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from sqlmodel import Session

from api.deps import RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.security import SeriesManager, SeriesReader
from core.policy import Permission, Principal
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.recurrence import Recurrence
from models.series import CampaignSeries
from models.series_schemas import (
    OccurrenceRead,
    SeriesCreate,
    SeriesDetail,
    SeriesRead,
    StandingApprovalCreate,
    StandingApprovalRead,
)
from services.org import Actor
from services.series import actions, standing, store

router = APIRouter(prefix="/api/v1", tags=["campaign-series"])
SeriesId = Annotated[int, Path(ge=1)]
NEXT_SHOWN = 6


def series_read(series: CampaignSeries) -> SeriesRead:
    read = SeriesRead.model_validate(series, from_attributes=True)
    return read.model_copy(
        update={"recurrence_text": Recurrence.model_validate(series.recurrence).describe()}
    )


def series_detail(session: Session, principal: Principal, series: CampaignSeries) -> SeriesDetail:
    assert series.id is not None
    return SeriesDetail(
        **series_read(series).model_dump(),
        occurrences=[
            OccurrenceRead.model_validate(o) for o in store.past_occurrences(session, series.id)
        ],
        next_occurrences=store.coming(series, NEXT_SHOWN),
        standing_approvals=[
            StandingApprovalRead.model_validate(s)
            for s in standing.visible(session, principal, series.id)
        ],
    )


@router.post(
    "/campaign-series",
    response_model=SeriesDetail,
    status_code=201,
    summary="Create a campaign series and its Temporal Schedule",
)
async def create_campaign_series(
    principal: SeriesManager,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    rid: RequestIdDep,
    body: SeriesCreate,
) -> SeriesDetail:
    """Checked as a campaign is (published version, target, approval policy: 422 naming the
    field); each occurrence is then a campaign named after the series and its date."""
    series = await actions.create(
        session, temporal.get, Actor(principal, rid), body, settings.temporal_task_queue
    )
    return series_detail(session, principal, series)


@router.get(
    "/campaign-series",
    response_model=list[SeriesRead],
    summary="List the brand's campaign series",
)
def list_campaign_series(principal: SeriesReader, session: SessionDep) -> list[SeriesRead]:
    return [series_read(s) for s in store.list_series(session, principal)]


@router.get(
    "/campaign-series/{series_id}",
    response_model=SeriesDetail,
    summary="Read a campaign series with its past and next occurrences",
)
def read_campaign_series(
    principal: SeriesReader, session: SessionDep, series_id: SeriesId
) -> SeriesDetail:
    series = store.load_series(session, principal, series_id)
    return series_detail(session, principal, series)


async def _change(
    principal: Principal,
    session: Session,
    settings: Settings,
    temporal: LazyTemporalClient,
    rid: str,
    series_id: int,
    what: actions.Change,
) -> SeriesDetail:
    series = store.load_series(session, principal, series_id, Permission.series_manage)
    await actions.change(
        session, temporal.get, Actor(principal, rid), series, what, settings.temporal_task_queue
    )
    return series_detail(session, principal, series)


@router.post(
    "/campaign-series/{series_id}/pause",
    response_model=SeriesDetail,
    summary="Pause a series: its Schedule fires nothing until resumed",
)
async def pause_campaign_series(
    principal: SeriesManager,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    rid: RequestIdDep,
    series_id: SeriesId,
) -> SeriesDetail:
    return await _change(
        principal, session, settings, temporal, rid, series_id, actions.Change.pause
    )


@router.post(
    "/campaign-series/{series_id}/resume",
    response_model=SeriesDetail,
    summary="Resume a paused series (the occurrences missed meanwhile stay skipped)",
)
async def resume_campaign_series(
    principal: SeriesManager,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    rid: RequestIdDep,
    series_id: SeriesId,
) -> SeriesDetail:
    return await _change(
        principal, session, settings, temporal, rid, series_id, actions.Change.resume
    )


@router.post(
    "/campaign-series/{series_id}/skip-next",
    response_model=SeriesDetail,
    summary="Skip the next occurrence that has not started yet",
)
async def skip_next_campaign_series(
    principal: SeriesManager,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    rid: RequestIdDep,
    series_id: SeriesId,
) -> SeriesDetail:
    """An occurrence already started is a campaign: cancel that campaign instead. Calling
    this again skips the occurrence after."""
    return await _change(
        principal, session, settings, temporal, rid, series_id, actions.Change.skip_next
    )


@router.post(
    "/campaign-series/{series_id}/end",
    response_model=SeriesDetail,
    summary="End a series: its Schedule is deleted, past occurrences stay",
)
async def end_campaign_series(
    principal: SeriesManager,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    rid: RequestIdDep,
    series_id: SeriesId,
) -> SeriesDetail:
    return await _change(principal, session, settings, temporal, rid, series_id, actions.Change.end)


@router.post(
    "/campaign-series/{series_id}/standing-approvals",
    response_model=StandingApprovalRead,
    status_code=201,
    summary="Approve the series for a partner while its content stays as approved",
)
def grant_standing_approval(
    principal: SeriesReader,
    session: SessionDep,
    rid: RequestIdDep,
    series_id: SeriesId,
    body: StandingApprovalCreate,
) -> StandingApprovalRead:
    """By whoever decides for the partner (partner_campaign.decide there), from an approved
    occurrence of the partner: later occurrences with the same HQ locked content, defaults and
    partner values go ahead without a new approval; any change asks again."""
    series = store.load_series(session, principal, series_id)
    row = standing.grant(session, Actor(principal, rid), series, body.partner_campaign_id)
    session.commit()
    return StandingApprovalRead.model_validate(row)


@router.delete(
    "/campaign-series/{series_id}/standing-approvals/{partner_id}",
    status_code=204,
    summary="Withdraw a partner's standing approval of a series",
)
def withdraw_standing_approval(
    principal: SeriesReader,
    session: SessionDep,
    rid: RequestIdDep,
    series_id: SeriesId,
    partner_id: Annotated[int, Path(ge=1)],
) -> Response:
    series = store.load_series(session, principal, series_id)
    standing.withdraw(session, Actor(principal, rid), series, partner_id)
    session.commit()
    return Response(status_code=204)
