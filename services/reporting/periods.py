"""Additive figures over a period: the daily aggregates the rollup closed, plus live counts for
the days after its watermark. The one reader delivery, trend and a partner's own report share,
so a figure never differs between them.

For a brand whose RollupWatermark says days before `closed_until` are complete, the figures are
the sum of ReportDaily rows for days in [since, min(until, closed_until)) plus
`metrics.count_metrics` from max(since, closed_until) to `until` (midnights, UTC). Without a
watermark everything is counted live. Both halves use the same metric definitions
(services.reporting.metrics), so where they overlap in meaning they agree exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Any, Literal

from sqlalchemy import func, or_, select
from sqlmodel import Session, col

from models.reporting import ReportDaily, RollupWatermark
from services.reporting.metrics import count_metrics
from services.reporting.scope import ReportScope
from services.reporting.shapes import ReportQuery

Key = Literal["campaign", "region", "partner", "day", "total"]
# The beginning of time for a report without `since` (before any brand existed).
EPOCH = date(2000, 1, 1)

# Figure -> (key, channel, metric) -> value
Figures = dict[tuple[Any, str, str], int]


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def window(q: ReportQuery) -> tuple[datetime | None, datetime | None]:
    """The query's days as [start, end) instants (None: open)."""
    return (
        midnight(q.since) if q.since is not None else None,
        midnight(q.until) if q.until is not None else None,
    )


def closed_until(session: Session, brand_id: int) -> date | None:
    mark = session.get(RollupWatermark, brand_id)
    return mark.closed_until if mark is not None else None


def _key_of(key: Key, day: date, region: int, partner: int, campaign: int) -> Any:
    return {
        "campaign": campaign,
        "region": region,
        "partner": partner,
        "day": day,
        "total": None,
    }[key]


def _wanted(metric: str, prefixes: Iterable[str] | None) -> bool:
    return prefixes is None or any(metric.startswith(p) for p in prefixes)


def daily_figures(
    session: Session,
    scope: ReportScope,
    q: ReportQuery,
    *,
    key: Key = "total",
    prefixes: Iterable[str] | None = None,
) -> Figures:
    """Sums of every metric (or those starting with one of `prefixes`) per `key`, channel and
    metric over the query's days, within the scope and the query's filters."""
    wanted = tuple(prefixes) if prefixes is not None else None
    out: Figures = defaultdict(int)
    closed = closed_until(session, scope.brand_id)
    since = q.since or EPOCH
    live_from = since
    if closed is not None and closed > since:
        agg_end = min(closed, q.until) if q.until is not None else closed
        if agg_end > since:
            _aggregates(session, scope, q, since, agg_end, key, wanted, out)
        live_from = closed
    if q.until is None or live_from < q.until:
        end = midnight(q.until) if q.until is not None else None
        for mk, value in count_metrics(session, scope.brand_id, midnight(live_from), end).items():
            if q.channel is not None and mk.channel != q.channel:
                continue
            if not _wanted(mk.metric, wanted):
                continue
            if not scope.keeps(q, mk.region_id, mk.partner_id, mk.campaign_id):
                continue
            k = _key_of(key, mk.day, mk.region_id, mk.partner_id, mk.campaign_id)
            out[(k, mk.channel, mk.metric)] += value
    return dict(out)


def _aggregates(
    session: Session,
    scope: ReportScope,
    q: ReportQuery,
    start: date,
    end: date,
    key: Key,
    wanted: tuple[str, ...] | None,
    out: Figures,
) -> None:
    key_col: Any = {
        "campaign": col(ReportDaily.campaign_id),
        "region": col(ReportDaily.region_id),
        "partner": col(ReportDaily.partner_id),
        "day": col(ReportDaily.day),
        "total": None,
    }[key]
    groups: list[Any] = [col(ReportDaily.channel), col(ReportDaily.metric)]
    if key_col is not None:
        groups.insert(0, key_col)
    where: list[Any] = [
        *scope.clause(
            q,
            col(ReportDaily.brand_id),
            col(ReportDaily.region_id),
            col(ReportDaily.partner_id),
            col(ReportDaily.campaign_id),
        ),
        col(ReportDaily.day) >= start,
        col(ReportDaily.day) < end,
    ]
    if q.channel is not None:
        where.append(col(ReportDaily.channel) == q.channel)
    if wanted is not None:
        where.append(or_(*(col(ReportDaily.metric).startswith(p) for p in wanted)))
    stmt = select(*groups, func.sum(ReportDaily.value)).where(*where).group_by(*groups)
    for row in session.connection().execute(stmt).all():
        if key_col is None:
            k, channel, metric, value = None, row[0], row[1], row[2]
        else:
            k, channel, metric, value = row[0], row[1], row[2], row[3]
            if key == "day" and not isinstance(k, date):
                k = date.fromisoformat(str(k))
        out[(k, channel, metric)] += int(value or 0)
