"""One occurrence of a series: a normal campaign through the normal launch path.

Idempotent per occurrence: the occurrence row is unique per (series, local date) and written in
the transaction that creates the campaign (whose Idempotency-Key is the series and date), so an
occurrence fired twice, retried or triggered by hand on the same day makes one campaign; a
second run only makes sure that campaign was launched. An occurrence due while the series is
paused, or on a date HQ skipped, is recorded as skipped; one that cannot be launched (the
template version was retired, the target names nobody any more) as failed, with the reason.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio.client import Client

from approvals.builtin import BuiltinPolicy
from core.errors import Problem
from domain.series import OccurrenceState, SeriesState
from domain.states import CampaignMode, CampaignState
from models.campaign_schemas import CampaignCreate
from models.campaigns import Campaign, PartnerCampaign
from models.org import User
from models.recurrence import zone
from models.series import CampaignSeries, SeriesOccurrence
from models.series_io import OccurrenceOutcome
from models.templates import TemplateVersion
from services import campaigns as crud
from services.accounts import principal_for
from services.campaign_actions import launch
from services.org import Actor, snapshot
from services.series.audit import record
from services.series.content import carried
from services.templates import content_of


def occurrence_of(session: Session, series_id: int, occurs_on: date) -> SeriesOccurrence | None:
    return session.exec(
        select(SeriesOccurrence).where(
            SeriesOccurrence.series_id == series_id, SeriesOccurrence.occurs_on == occurs_on
        )
    ).first()


def series_of_campaign(session: Session, campaign_id: int) -> SeriesOccurrence | None:
    return session.exec(
        select(SeriesOccurrence).where(SeriesOccurrence.campaign_id == campaign_id)
    ).first()


def _outcome(row: SeriesOccurrence) -> OccurrenceOutcome:
    return OccurrenceOutcome(
        series_id=row.series_id,
        occurs_on=row.occurs_on,
        state=row.state.value,
        campaign_id=row.campaign_id,
        reason=row.reason,
    )


def _policy(stored: str) -> BuiltinPolicy | int:
    return int(stored) if stored.isdigit() else BuiltinPolicy(stored)


def campaign_body(series: CampaignSeries, occurs_on: date, at: datetime) -> CampaignCreate:
    return CampaignCreate(
        name=f"{series.name} {occurs_on.isoformat()}",
        template_version_id=series.template_version_id,
        target=series.target,
        personalise_until=at + timedelta(seconds=series.personalise_for),
        send_by=at + timedelta(seconds=series.send_within),
        mode=CampaignMode(series.mode),
        approval_policy=_policy(series.approval_policy),
        remind_after=timedelta(seconds=series.remind_after),
        escalate_after=timedelta(seconds=series.escalate_after),
        defaults=dict(series.defaults),
    )


def _previous_values(
    session: Session, series: CampaignSeries, occurs_on: date
) -> dict[int, tuple[date, dict[str, object]]]:
    """Each partner's values in the latest earlier occurrence where it had any."""
    rows = session.exec(
        select(PartnerCampaign, col(SeriesOccurrence.occurs_on))
        .join(SeriesOccurrence, col(SeriesOccurrence.campaign_id) == PartnerCampaign.campaign_id)
        .where(SeriesOccurrence.series_id == series.id, SeriesOccurrence.occurs_on < occurs_on)
        .order_by(col(SeriesOccurrence.occurs_on).desc(), col(PartnerCampaign.id))
    ).all()
    out: dict[int, tuple[date, dict[str, object]]] = {}
    for pc, on in rows:
        if pc.values and pc.partner_id not in out:
            out[pc.partner_id] = (on, dict(pc.values))
    return out


def _carry_over(
    session: Session, series: CampaignSeries, campaign: Campaign, occurs_on: date
) -> None:
    """The partner campaigns, each starting from the partner's values of the last occurrence
    (dates moved along), so an unchanged partner submits in one click."""
    version = session.get(TemplateVersion, campaign.template_version_id)
    previous = _previous_values(session, series, occurs_on)
    if version is None or not previous:
        return
    content = content_of(version)
    partners = crud.resolve_target_partners(session, campaign)
    for row in crud.create_partner_campaigns(session, campaign, partners):
        if row.partner_id in previous:
            was_on, values = previous[row.partner_id]
            row.values = carried(values, content, was_on, occurs_on)
            session.add(row)
    session.flush()


def _record(
    session: Session, actor: Actor, series: CampaignSeries, row: SeriesOccurrence
) -> SeriesOccurrence:
    session.add(row)
    session.flush()
    record(session, actor, f"series.occurrence_{row.state.value}", row, None, snapshot(row))
    return row


def _open(
    session: Session, series: CampaignSeries, occurs_on: date, at: datetime
) -> SeriesOccurrence:
    """The occurrence's row (committed): skipped, failed, or launched with its draft."""
    assert series.id is not None
    creator = session.get(User, series.created_by)
    assert creator is not None
    actor = Actor(principal_for(session, creator), f"series-{series.id}-{occurs_on}")
    row = SeriesOccurrence(
        series_id=series.id,
        brand_id=series.brand_id,
        occurs_on=occurs_on,
        scheduled_at=at,
        state=OccurrenceState.skipped,
    )
    if series.state != SeriesState.active:
        row.reason = f"the series was {series.state.value}"
    elif occurs_on.isoformat() in series.skip_dates:
        row.reason = "skipped ahead by headquarters"
    else:
        try:
            body = campaign_body(series, occurs_on, at)
            key = f"series-{series.id}-{occurs_on.isoformat()}"
            campaign, _ = crud.create_campaign(session, actor, body, key)
            _carry_over(session, series, campaign, occurs_on)
            row.state, row.campaign_id = OccurrenceState.launched, campaign.id
        except (Problem, ValueError) as err:
            session.rollback()
            row.state = OccurrenceState.failed
            row.reason = (err.detail if isinstance(err, Problem) else str(err))[:500]
    _record(session, actor, series, row)
    session.commit()
    return row


async def open_occurrence(
    engine: Engine,
    client: Client,
    series_id: int,
    at: datetime,
    *,
    task_queue: str,
    delivery_task_queue: str,
) -> OccurrenceOutcome:
    with Session(engine, expire_on_commit=False) as session:
        series = session.get(CampaignSeries, series_id)
        if series is None:
            raise ValueError(f"campaign series {series_id} does not exist")
        occurs_on = at.astimezone(zone(series.timezone)).date()
        row = occurrence_of(session, series_id, occurs_on)
        if row is None:
            try:
                row = _open(session, series, occurs_on, at)
            except IntegrityError:  # another run of the same occurrence got there first
                session.rollback()
                row = occurrence_of(session, series_id, occurs_on)
                assert row is not None
        campaign = session.get(Campaign, row.campaign_id) if row.campaign_id else None
        if campaign is not None and campaign.state in (CampaignState.draft, CampaignState.running):
            creator = session.get(User, series.created_by)
            assert creator is not None
            actor = Actor(principal_for(session, creator), f"series-{series_id}-{occurs_on}")
            try:
                await launch(
                    session,
                    client,
                    task_queue,
                    actor,
                    campaign,
                    delivery_task_queue=delivery_task_queue,
                )
            except Problem as err:
                session.rollback()
                row.state = OccurrenceState.failed
                row.reason = f"launch refused: {err.detail}"[:500]
                session.add(row)
                session.commit()
        return _outcome(row)
