"""Figures over time, per week (Monday) or month: the additive metrics summed per period
through periods.daily_figures, so each point equals the delivery report over its days."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from sqlmodel import Session

from services.reporting.periods import daily_figures
from services.reporting.scope import ReportScope
from services.reporting.shapes import Period, ReportQuery, TrendPoint, TrendReport

# Trend column -> the metric it sums.
TREND_METRICS: dict[str, str] = {
    "drafting": "state.drafting",
    "submissions": "event.submit",
    "approvals": "state.approved",
    "changes_requested": "event.request_changes",
    "recipients": "delivery.recipients",
    "sent": "delivery.sent",
    "delivered": "engagement.delivered",
    "bounced": "engagement.bounced",
    "opened_unique": "engagement.opened_unique",
    "clicked_unique": "engagement.clicked_unique",
    "unsubscribed": "engagement.unsubscribed",
}
COLUMNS = (*TREND_METRICS, "refusals")
# The longest series a trend answers (about ten years of weeks).
MAX_POINTS = 520


def period_start(day: date, period: Period) -> date:
    if period == "month":
        return day.replace(day=1)
    return day - timedelta(days=day.weekday())


def next_start(start: date, period: Period) -> date:
    if period == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=7)


def trend(session: Session, scope: ReportScope, q: ReportQuery) -> TrendReport:
    """One point per period from `since` (else the first day with figures) to `until` (else the
    last day with figures), empty periods included with zeros."""
    metric_column = {m: c for c, m in TREND_METRICS.items()}
    figures = daily_figures(
        session, scope, q, key="day", prefixes=(*TREND_METRICS.values(), "refused.")
    )
    per: dict[date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
    days = set()
    for (day, _channel, metric), value in figures.items():
        column = "refusals" if metric.startswith("refused.") else metric_column.get(metric)
        if column is None:
            continue
        days.add(day)
        per[period_start(day, q.period)][column] += value
    first = q.since or (min(days) if days else None)
    last = (q.until - timedelta(days=1)) if q.until else (max(days) if days else None)
    points: list[TrendPoint] = []
    if first is not None and last is not None:
        start = period_start(first, q.period)
        while start <= last and len(points) < MAX_POINTS:
            points.append(TrendPoint(start, dict(per.get(start, dict.fromkeys(COLUMNS, 0)))))
            start = next_start(start, q.period)
    return TrendReport(period=q.period, points=points)
