"""The daily rollup: closes a brand's finished UTC days into ReportDaily and moves its
RollupWatermark, so reports sum stored aggregates before the watermark and count live tables
(services.reporting.metrics.count_metrics, the same definition) only from it on.

A run closes every day before `today` not closed yet, and re-closes the last `lookback_days`
closed days: facts can land in a day already closed (SES feedback a day late, a projection
retried after midnight). Re-closing costs counting those days again on every run; a fact
later than the look-back stays out of the aggregates until `python -m scripts.reports_backfill`
rebuilds every day (docs/reporting-rollup.md).

Each chunk of days is one transaction: the watermark row is locked, the chunk's rows deleted
and inserted again, the watermark moved. Rerunning changes nothing; a crash keeps the chunks
already committed; memory holds one chunk's counts at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Engine, delete, func, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.base import utcnow
from models.delivery import Delivery, DeliveryEvent
from models.org import Brand
from models.reporting import ContentRefusal, ReportDaily, RollupWatermark, TransitionFact
from services.reporting.metrics import count_metrics

LOOKBACK_DAYS = 2
CHUNK_DAYS = 7
INSERT_BATCH = 5000


@dataclass(frozen=True)
class RollupResult:
    """One brand's rollup: the days [closed_from, closed_until) were (re)written."""

    brand_id: int
    closed_from: date | None
    closed_until: date | None
    days: int = 0
    rows: int = 0


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _as_date(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value)).date()


def earliest_day(session: Session, brand_id: int) -> date | None:
    """The brand's first day with a fact, a delivery or an engagement event."""
    firsts = [
        session.exec(
            select(func.min(TransitionFact.at)).where(TransitionFact.brand_id == brand_id)
        ),
        session.exec(
            select(func.min(ContentRefusal.at)).where(ContentRefusal.brand_id == brand_id)
        ),
        session.exec(select(func.min(Delivery.created_at)).where(Delivery.brand_id == brand_id)),
        session.exec(select(func.min(DeliveryEvent.at)).where(DeliveryEvent.brand_id == brand_id)),
    ]
    days = [d for d in (_as_date(r.one()) for r in firsts) if d is not None]
    return min(days) if days else None


def brands_to_roll(engine: Engine) -> list[int]:
    """Every brand, in id order (a brand without facts gets its watermark and nothing else)."""
    with Session(engine) as session:
        return [i for i in session.exec(select(Brand.id).order_by(col(Brand.id))).all() if i]


def _ensure_watermark(engine: Engine, brand_id: int, today: date) -> tuple[date, bool]:
    """The brand's watermark, created at its earliest day (or today, without facts) on the
    first run; and whether it already existed. Closed until the earliest day means nothing is
    aggregated yet, which is what reports read before the first run too."""
    with Session(engine) as session:
        found = session.get(RollupWatermark, brand_id)
        if found is not None:
            return found.closed_until, True
        start = min(earliest_day(session, brand_id) or today, today)
        session.add(RollupWatermark(brand_id=brand_id, closed_until=start))
        try:
            session.commit()
        except IntegrityError:  # a concurrent first run created it
            session.rollback()
            again = session.get(RollupWatermark, brand_id)
            assert again is not None
            return again.closed_until, True
        return start, False


def roll_up(
    engine: Engine,
    brand_id: int,
    today: date,
    *,
    lookback_days: int = LOOKBACK_DAYS,
    chunk_days: int = CHUNK_DAYS,
    rebuild: bool = False,
) -> RollupResult:
    """Close every day of the brand before `today` (UTC) not closed yet, re-closing the last
    `lookback_days` closed days; `rebuild` re-closes every day from the brand's first."""
    closed_until, existed = _ensure_watermark(engine, brand_id, today)
    start = closed_until
    if existed:
        start = closed_until - timedelta(days=max(0, lookback_days))
    if rebuild:
        with Session(engine) as session:
            first = earliest_day(session, brand_id)
        start = min(start, first) if first is not None else start
    if start >= today:
        return RollupResult(brand_id, None, closed_until)
    rows = 0
    day = start
    while day < today:
        end = min(day + timedelta(days=max(1, chunk_days)), today)
        rows += _close(engine, brand_id, day, end)
        day = end
    return RollupResult(brand_id, start, max(closed_until, today), (today - start).days, rows)


def _close(engine: Engine, brand_id: int, start: date, end: date) -> int:
    """Replace the rows of days [start, end) and move the watermark to `end` (never back)."""
    with Session(engine) as session:
        mark = session.exec(
            select(RollupWatermark).where(RollupWatermark.brand_id == brand_id).with_for_update()
        ).one()
        counts = count_metrics(session, brand_id, midnight(start), midnight(end))
        session.exec(
            delete(ReportDaily).where(
                col(ReportDaily.brand_id) == brand_id,
                col(ReportDaily.day) >= start,
                col(ReportDaily.day) < end,
            )
        )
        values = [
            {
                "brand_id": brand_id,
                "day": key.day,
                "region_id": key.region_id,
                "partner_id": key.partner_id,
                "campaign_id": key.campaign_id,
                "channel": key.channel,
                "metric": key.metric,
                "value": value,
            }
            for key, value in counts.items()
            if value
        ]
        for i in range(0, len(values), INSERT_BATCH):
            session.connection().execute(insert(ReportDaily), values[i : i + INSERT_BATCH])
        if end > mark.closed_until:
            mark.closed_until = end
        mark.updated_at = utcnow()
        session.add(mark)
        session.commit()
        return len(values)
