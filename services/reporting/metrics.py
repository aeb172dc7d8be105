"""The reporting metrics, counted per UTC day from the live tables: the one definition the rollup
stores in ReportDaily for closed days and reports read live for the days after its watermark.

Every metric is additive over days (a period is the sum of its days):
- `state.<state>`: partner campaigns that entered the state (a transition fact whose state
  changed), e.g. `state.drafting` invited partners whose invitation opened, `state.sent`;
- `event.<event>`: timeline entries of the event, including the notes that change no state
  (`event.submit` every submission round, `event.request_changes`, `event.escalate`);
- `refused.<rule>`: content rules that refused a partner's save or submit;
- `delivery.recipients` (ledger rows created), `delivery.sent`, `delivery.failed`,
  `delivery.suppressed` (rows that reached the status, by the time they reached it);
- `engagement.<kind>`: events after the send (delivered, bounced, complained, opened, clicked,
  unsubscribed), and `engagement.<kind>_unique` for opened and clicked: recipients whose
  first event of the kind fell on the day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from domain.states import DeliveryStatus
from models.campaigns import PartnerCampaign
from models.delivery import Delivery, DeliveryEvent
from models.reporting import ContentRefusal, TransitionFact

EMAIL = "email"
UNIQUE_KINDS = ("opened", "clicked")


@dataclass(frozen=True)
class MetricKey:
    day: date
    region_id: int
    partner_id: int
    campaign_id: int
    channel: str
    metric: str


def _day(value: object) -> date:
    """SQLite's date() answers text, PostgreSQL's a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def count_metrics(
    session: Session, brand_id: int, start: datetime, end: datetime | None = None
) -> dict[MetricKey, int]:
    """Every metric of the brand for facts at or after `start` and before `end` (None: now)."""
    counts: dict[MetricKey, int] = defaultdict(int)
    # Workflow facts belong to no channel and keep the "email" key they always had;
    # deliveries and their events count under the row's own channel (email, sms).
    for rows in (
        _as_email(_transitions(session, brand_id, start, end)),
        _as_email(_refusals(session, brand_id, start, end)),
        _deliveries(session, brand_id, start, end),
        _events(session, brand_id, start, end),
        _unique_events(session, brand_id, start, end),
    ):
        for day, region_id, partner_id, campaign_id, channel, metric, value in rows:
            key = MetricKey(_day(day), region_id, partner_id, campaign_id, channel, metric)
            counts[key] += int(value)
    return dict(counts)


Row = tuple[object, int, int, int, str, int]
ChannelRow = tuple[object, int, int, int, str, str, int]


def _as_email(rows: Iterable[Row]) -> Iterable[ChannelRow]:
    for d, r, p, c, metric, n in rows:
        yield d, r, p, c, EMAIL, metric, n


def _rows(session: Session, query: Any) -> list[Any]:
    """A grouped query's rows as tuples (through the connection: sqlmodel's exec types a
    select of more than four columns poorly)."""
    return list(session.connection().execute(query).all())


def _window(column: Any, start: datetime, end: datetime | None) -> list[Any]:
    clauses = [col(column) >= start]
    if end is not None:
        clauses.append(col(column) < end)
    return clauses


def _transitions(
    session: Session, brand_id: int, start: datetime, end: datetime | None
) -> Iterable[Row]:
    day = func.date(TransitionFact.at)
    base = (
        col(TransitionFact.brand_id) == brand_id,
        *_window(TransitionFact.at, start, end),
    )
    groups: tuple[Any, ...] = (
        day,
        col(TransitionFact.region_id),
        col(TransitionFact.partner_id),
        col(TransitionFact.campaign_id),
    )
    for d, r, p, c, state, n in _rows(
        session,
        select(*groups, col(TransitionFact.to_state), func.count())
        .where(*base, col(TransitionFact.to_state) != col(TransitionFact.from_state))
        .group_by(*groups, col(TransitionFact.to_state)),
    ):
        yield d, r, p, c, f"state.{state}", n
    for d, r, p, c, event, n in _rows(
        session,
        select(*groups, col(TransitionFact.event), func.count())
        .where(*base)
        .group_by(*groups, col(TransitionFact.event)),
    ):
        yield d, r, p, c, f"event.{event}", n


def _refusals(
    session: Session, brand_id: int, start: datetime, end: datetime | None
) -> Iterable[Row]:
    day = func.date(ContentRefusal.at)
    groups: tuple[Any, ...] = (
        day,
        col(ContentRefusal.region_id),
        col(ContentRefusal.partner_id),
        col(ContentRefusal.campaign_id),
    )
    for d, r, p, c, rule, n in _rows(
        session,
        select(*groups, col(ContentRefusal.rule), func.count())
        .where(col(ContentRefusal.brand_id) == brand_id, *_window(ContentRefusal.at, start, end))
        .group_by(*groups, col(ContentRefusal.rule)),
    ):
        yield d, r, p, c, f"refused.{rule}", n


def _deliveries(
    session: Session, brand_id: int, start: datetime, end: datetime | None
) -> Iterable[ChannelRow]:
    groups: tuple[Any, ...] = (
        col(PartnerCampaign.region_id),
        col(PartnerCampaign.partner_id),
        col(PartnerCampaign.campaign_id),
        col(Delivery.channel),
    )
    joined = col(Delivery.partner_campaign_id) == col(PartnerCampaign.id)
    created = func.date(Delivery.created_at)
    for d, r, p, c, ch, n in _rows(
        session,
        select(created, *groups, func.count())
        .where(
            joined, col(Delivery.brand_id) == brand_id, *_window(Delivery.created_at, start, end)
        )
        .group_by(created, *groups),
    ):
        yield d, r, p, c, ch, "delivery.recipients", n
    sent = func.date(Delivery.sent_at)
    for d, r, p, c, ch, n in _rows(
        session,
        select(sent, *groups, func.count())
        .where(
            joined,
            col(Delivery.brand_id) == brand_id,
            col(Delivery.status) == DeliveryStatus.sent,
            *_window(Delivery.sent_at, start, end),
        )
        .group_by(sent, *groups),
    ):
        yield d, r, p, c, ch, "delivery.sent", n
    ended = func.date(Delivery.updated_at)
    for d, r, p, c, ch, status, n in _rows(
        session,
        select(ended, *groups, col(Delivery.status), func.count())
        .where(
            joined,
            col(Delivery.brand_id) == brand_id,
            col(Delivery.status).in_([DeliveryStatus.failed, DeliveryStatus.suppressed]),
            *_window(Delivery.updated_at, start, end),
        )
        .group_by(ended, *groups, col(Delivery.status)),
    ):
        yield d, r, p, c, ch, f"delivery.{status}", n


def _events(
    session: Session, brand_id: int, start: datetime, end: datetime | None
) -> Iterable[ChannelRow]:
    groups: tuple[Any, ...] = (
        col(PartnerCampaign.region_id),
        col(PartnerCampaign.partner_id),
        col(PartnerCampaign.campaign_id),
        col(Delivery.channel),
    )
    day = func.date(DeliveryEvent.at)
    for d, r, p, c, ch, kind, n in _rows(
        session,
        select(day, *groups, col(DeliveryEvent.kind), func.count())
        .where(
            col(DeliveryEvent.partner_campaign_id) == col(PartnerCampaign.id),
            col(DeliveryEvent.delivery_id) == col(Delivery.id),
            col(DeliveryEvent.brand_id) == brand_id,
            *_window(DeliveryEvent.at, start, end),
        )
        .group_by(day, *groups, col(DeliveryEvent.kind)),
    ):
        yield d, r, p, c, ch, f"engagement.{kind}", n


def _unique_events(
    session: Session, brand_id: int, start: datetime, end: datetime | None
) -> Iterable[ChannelRow]:
    """Recipients whose first open (click) fell in the window, on the day it fell."""
    first = (
        select(
            col(DeliveryEvent.delivery_id),
            col(DeliveryEvent.partner_campaign_id),
            col(DeliveryEvent.kind),
            func.min(DeliveryEvent.at).label("first_at"),
        )
        .where(
            col(DeliveryEvent.brand_id) == brand_id,
            col(DeliveryEvent.kind).in_(UNIQUE_KINDS),
            col(DeliveryEvent.delivery_id).in_(
                select(col(DeliveryEvent.delivery_id)).where(
                    col(DeliveryEvent.brand_id) == brand_id,
                    col(DeliveryEvent.kind).in_(UNIQUE_KINDS),
                    *_window(DeliveryEvent.at, start, end),
                )
            ),
        )
        .group_by(
            col(DeliveryEvent.delivery_id),
            col(DeliveryEvent.partner_campaign_id),
            col(DeliveryEvent.kind),
        )
        .subquery()
    )
    day = func.date(first.c.first_at)
    groups: tuple[Any, ...] = (
        col(PartnerCampaign.region_id),
        col(PartnerCampaign.partner_id),
        col(PartnerCampaign.campaign_id),
        col(Delivery.channel),
    )
    window: list[Any] = [first.c.first_at >= start] + (
        [first.c.first_at < end] if end is not None else []
    )
    for d, r, p, c, ch, kind, n in _rows(
        session,
        select(day, *groups, first.c.kind, func.count())
        .where(
            first.c.partner_campaign_id == col(PartnerCampaign.id),
            first.c.delivery_id == col(Delivery.id),
            *window,
        )
        .group_by(day, *groups, first.c.kind),
    ):
        yield d, r, p, c, ch, f"engagement.{kind}_unique", n
