"""Delivery and engagement per group and channel: the same columns (shapes.DELIVERY_COLUMNS)
for every channel, read through periods.daily_figures (closed days from the rollup, the rest
live)."""

from __future__ import annotations

from collections import defaultdict

from sqlmodel import Session

from models.org import Brand
from services.reporting.periods import daily_figures
from services.reporting.scope import ReportScope, labels
from services.reporting.shapes import DELIVERY_COLUMNS, DeliveryReport, DeliveryRow, ReportQuery

CHANNELS = ("email", "sms")

# Report column -> the metric it sums (services.reporting.metrics).
COLUMN_METRICS: dict[str, str] = {
    "recipients": "delivery.recipients",
    "sent": "delivery.sent",
    "failed": "delivery.failed",
    "suppressed": "delivery.suppressed",
    "delivered": "engagement.delivered",
    "bounced": "engagement.bounced",
    "complained": "engagement.complained",
    "unsubscribed": "engagement.unsubscribed",
    "opened": "engagement.opened",
    "opened_unique": "engagement.opened_unique",
    "clicked": "engagement.clicked",
    "clicked_unique": "engagement.clicked_unique",
}
METRIC_COLUMNS = {m: c for c, m in COLUMN_METRICS.items()}
assert tuple(COLUMN_METRICS) == DELIVERY_COLUMNS


def empty() -> dict[str, int]:
    return dict.fromkeys(DELIVERY_COLUMNS, 0)


def delivery(session: Session, scope: ReportScope, q: ReportQuery) -> DeliveryReport:
    """One row per group and channel that has figures; totals per channel (every known
    channel, zeros included, so the columns never change shape)."""
    figures = daily_figures(session, scope, q, key=q.group, prefixes=("delivery.", "engagement."))
    per: dict[tuple[int, str], dict[str, int]] = defaultdict(empty)
    totals: dict[str, dict[str, int]] = {
        c: empty() for c in CHANNELS if q.channel is None or q.channel == c
    }
    for (key, channel, metric), value in figures.items():
        column = METRIC_COLUMNS.get(metric)
        if column is None:
            continue
        per[(int(key), channel)][column] += value
        totals.setdefault(channel, empty())[column] += value
    names = labels(session, q.group, {k for k, _ in per})
    rows = [
        DeliveryRow(key, names.get(key, f"#{key}"), channel, figures)
        for (key, channel), figures in per.items()
    ]
    rows.sort(key=lambda r: (r.label.lower(), r.key or 0, r.channel))
    brand = session.get(Brand, scope.brand_id)
    return DeliveryReport(
        rows=rows,
        total=[DeliveryRow(None, "All", c, f) for c, f in sorted(totals.items())],
        tracking_on=bool(brand and (brand.open_tracking or brand.click_tracking)),
    )
