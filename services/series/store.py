"""Campaign series rows: create, list, read, pause, resume, skip the next one, end.

A series is brand-level, like a campaign: everyone holding series.read in the brand reads it
(partners see the series they get campaigns from); only brand-wide series.manage changes it.
These functions change rows and audit them; the routes then bring the Schedule in line
(services.series.schedules), after the commit, so a Schedule never fires for a missing row.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from sqlmodel import Session, col, select

from core.errors import Conflict, FieldError, Forbidden, NotFound
from core.policy import Permission, Principal, Target, allows, allows_in_brand
from domain.series import SERIES_LIVE, SeriesState
from models.base import utcnow
from models.campaign_schemas import CampaignCreate
from models.org import Partner
from models.recurrence import Recurrence, next_occurrences
from models.series import CampaignSeries, SeriesOccurrence
from models.series_schemas import SeriesCreate
from services import campaigns as campaign_rules
from services.org import Actor, snapshot
from services.series.audit import record


def brand_zone(session: Session, brand_id: int) -> str:
    """The zone most of the brand's partners are in (UTC for a brand without partners)."""
    zones = Counter(session.exec(select(Partner.timezone).where(Partner.brand_id == brand_id)))
    return zones.most_common(1)[0][0] if zones else "UTC"


def _require_manage(principal: Principal, brand_id: int) -> None:
    if not allows(principal, Permission.series_manage, Target(brand_id)):
        raise Forbidden(f"Your roles do not allow {Permission.series_manage.value}")


def create_series(session: Session, actor: Actor, body: SeriesCreate) -> CampaignSeries:
    """Checked as a campaign is (published version, target, policy) so no occurrence fails
    for what could be known now; the recurrence must occur within five years."""
    principal = actor.principal
    brand_id = principal.brand_id
    _require_manage(principal, brand_id)
    tz = body.timezone or brand_zone(session, brand_id)
    if not next_occurrences(body.recurrence, tz, utcnow(), 1):
        raise FieldError("recurrence", "never occurs within five years")
    probe = CampaignCreate(
        name=body.name,
        template_version_id=body.template_version_id,
        target=body.target,
        personalise_until=utcnow() + body.personalise_for,
        send_by=utcnow() + body.send_within,
        mode=body.mode,
        approval_policy=body.approval_policy,
        remind_after=body.remind_after,
        escalate_after=body.escalate_after,
        defaults=body.defaults,
    )
    policy = campaign_rules.check_new_campaign(session, brand_id, probe)
    series = CampaignSeries(
        brand_id=brand_id,
        name=body.name,
        template_version_id=body.template_version_id,
        target=body.target,
        mode=body.mode.value,
        approval_policy=str(policy.policy_id or policy.name),
        defaults=body.defaults,
        recurrence=body.recurrence.model_dump(mode="json", exclude_none=True),
        timezone=tz,
        personalise_for=int(body.personalise_for.total_seconds()),
        send_within=int(body.send_within.total_seconds()),
        remind_after=int(body.remind_after.total_seconds()),
        escalate_after=int(body.escalate_after.total_seconds()),
        created_by=principal.user_id,
    )
    session.add(series)
    session.flush()
    record(session, actor, "series.created", series, None, snapshot(series))
    return series


def list_series(session: Session, principal: Principal) -> list[CampaignSeries]:
    """The brand's series, newest first (a brand has a handful, not thousands: no paging)."""
    if not allows_in_brand(principal, Permission.series_read, principal.brand_id):
        return []
    return list(
        session.exec(
            select(CampaignSeries)
            .where(CampaignSeries.brand_id == principal.brand_id)
            .order_by(col(CampaignSeries.id).desc())
        )
    )


def load_series(
    session: Session,
    principal: Principal,
    series_id: int,
    permission: Permission = Permission.series_read,
) -> CampaignSeries:
    """404 outside the principal's brand, 403 for a change without brand-wide series.manage."""
    series = session.get(CampaignSeries, series_id)
    if series is None or not allows_in_brand(principal, Permission.series_read, series.brand_id):
        raise NotFound("campaign series", series_id)
    if permission != Permission.series_read:
        _require_manage(principal, series.brand_id)
    return series


def past_occurrences(session: Session, series_id: int, limit: int = 24) -> list[SeriesOccurrence]:
    return list(
        session.exec(
            select(SeriesOccurrence)
            .where(SeriesOccurrence.series_id == series_id)
            .order_by(col(SeriesOccurrence.occurs_on).desc())
            .limit(limit)
        )
    )


def coming(series: CampaignSeries, count: int, after: datetime | None = None) -> list[datetime]:
    """The next occurrences from the recurrence in the series' zone, skipped dates left out;
    none while paused or ended (the Schedule fires nothing then)."""
    if series.state != SeriesState.active:
        return []
    recurrence = Recurrence.model_validate(series.recurrence)
    skipped = set(series.skip_dates)
    wanted = next_occurrences(recurrence, series.timezone, after or utcnow(), count + len(skipped))
    return [at for at in wanted if at.date().isoformat() not in skipped][:count]


def _change(
    session: Session, actor: Actor, series: CampaignSeries, action: str, **fields: object
) -> CampaignSeries:
    before = snapshot(series)
    for name, value in fields.items():
        setattr(series, name, value)
    series.updated_at = utcnow()
    session.add(series)
    session.flush()
    record(session, actor, action, series, before, snapshot(series))
    return series


def pause(session: Session, actor: Actor, series: CampaignSeries) -> CampaignSeries:
    if series.state != SeriesState.active:
        raise Conflict(f"campaign series {series.id} is {series.state}: only active ones pause")
    return _change(session, actor, series, "series.paused", state=SeriesState.paused)


def resume(session: Session, actor: Actor, series: CampaignSeries) -> CampaignSeries:
    if series.state != SeriesState.paused:
        raise Conflict(f"campaign series {series.id} is {series.state}: only paused ones resume")
    return _change(session, actor, series, "series.resumed", state=SeriesState.active)


def skip_next(session: Session, actor: Actor, series: CampaignSeries) -> date:
    """Skips the next occurrence that has not fired yet (one already fired is a campaign:
    cancel that campaign instead); a second call skips the one after. Answers the date."""
    if series.state != SeriesState.active:
        raise Conflict(f"campaign series {series.id} is {series.state}: nothing comes next")
    upcoming = coming(series, 1)
    if not upcoming:
        raise Conflict(f"campaign series {series.id} has no occurrence to come")
    day = upcoming[0].date()
    skip_dates = sorted({*series.skip_dates, day.isoformat()})
    _change(session, actor, series, "series.skipped_next", skip_dates=skip_dates)
    return day


def end(session: Session, actor: Actor, series: CampaignSeries) -> CampaignSeries:
    """No more occurrences; the past ones and their campaigns stay (running ones run on)."""
    if series.state not in SERIES_LIVE:
        raise Conflict(f"campaign series {series.id} has ended already")
    return _change(session, actor, series, "series.ended", state=SeriesState.ended)
