"""A partner's own report: its figures next to the median of its region's partners.

Each region figure is the median over the region's partners of their own value (a partner with
no value for a figure, e.g. nothing sent, does not count for it). It is shown only when at least
MIN_GROUP partners of the region have data in the period (`group_size`) and at least MIN_GROUP
have a value for that figure; otherwise `region_median` is None and `comparable` False, so no
region figure can be traced back to one other partner. Another partner's own value is never
returned.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import median

from sqlalchemy import distinct, func
from sqlmodel import Session, col, select

from core.errors import FieldError, NotFound
from models.org import Partner, Region
from models.reporting import CycleKind, CycleTime, TransitionFact
from services.reporting.periods import daily_figures, window
from services.reporting.scope import ReportScope
from services.reporting.shapes import MIN_GROUP, Comparison, MyReport, ReportQuery
from services.reporting.timing import cycle_stats, cycle_where

FIGURES: tuple[tuple[str, str], ...] = (
    ("submitted", "Campaigns submitted"),
    ("days_to_submission", "Median days to submission"),
    ("approval_hours", "Median hours to approval"),
    ("sent", "Messages sent"),
    ("open_rate", "Open rate"),
    ("click_rate", "Click rate"),
)


def own_partner(session: Session, scope: ReportScope, q: ReportQuery) -> Partner:
    """The partner the report is for: the one asked (within the scope), else the reader's own."""
    pid = q.partner_id
    if pid is None:
        if not scope.partner_ids:
            raise FieldError("partner_id", "is required: name the partner to report on")
        pid = min(scope.partner_ids)
    partner = session.get(Partner, pid)
    if (
        partner is None
        or partner.brand_id != scope.brand_id
        or not scope.covers(partner.region_id, partner.id)
    ):
        raise NotFound("partner", pid)
    return partner


def per_partner(
    session: Session, brand_id: int, region_id: int, q: ReportQuery
) -> dict[str, dict[int, float]]:
    """Figure -> partner -> value, for every partner of the region with a value."""
    region_scope = ReportScope(brand_id, False, frozenset({region_id}))
    rq = ReportQuery(since=q.since, until=q.until, campaign_id=q.campaign_id, channel=q.channel)
    out: dict[str, dict[int, float]] = defaultdict(dict)
    f = TransitionFact
    where = [
        *region_scope.clause(
            rq, col(f.brand_id), col(f.region_id), col(f.partner_id), col(f.campaign_id)
        ),
        col(f.event) == "submit",
    ]
    start, end = window(rq)
    if start is not None:
        where.append(col(f.at) >= start)
    if end is not None:
        where.append(col(f.at) < end)
    for pid, n in session.exec(
        select(col(f.partner_id), func.count(distinct(col(f.partner_campaign_id))))
        .where(*where)
        .group_by(col(f.partner_id))
    ).all():
        out["submitted"][pid] = float(n)
    partner_col = col(CycleTime.partner_id)
    for kind, name, unit in (
        (CycleKind.to_submission, "days_to_submission", 86400),
        (CycleKind.to_approval, "approval_hours", 3600),
    ):
        stats = cycle_stats(session, cycle_where(region_scope, rq, kind), [partner_col])
        for (pid,), (_n, med, _p90) in stats.items():
            if med is not None:
                out[name][pid] = round(med / unit, 2)
    figures = daily_figures(
        session,
        region_scope,
        rq,
        key="partner",
        prefixes=("delivery.sent", "engagement.opened_unique", "engagement.clicked_unique"),
    )
    sums: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (pid, _channel, metric), value in figures.items():
        sums[pid][metric] += value
    for pid, m in sums.items():
        sent = m["delivery.sent"]
        if sent:
            out["sent"][pid] = float(sent)
            out["open_rate"][pid] = round(m["engagement.opened_unique"] / sent, 4)
            out["click_rate"][pid] = round(m["engagement.clicked_unique"] / sent, 4)
    return out


def my_report(session: Session, scope: ReportScope, q: ReportQuery) -> MyReport:
    partner = own_partner(session, scope, q)
    assert partner.id is not None
    region = session.get(Region, partner.region_id)
    values = per_partner(session, partner.brand_id, partner.region_id, q)
    with_data = {pid for by in values.values() for pid in by}
    group_size = len(with_data)
    comparable = group_size >= MIN_GROUP

    def region_median(by: dict[int, float]) -> float | None:
        if not comparable or len(by) < MIN_GROUP:
            return None
        return round(median(by.values()), 4)

    figures = [
        Comparison(
            metric=name,
            label=label,
            own=values[name].get(partner.id, 0.0 if name in ("submitted", "sent") else None),
            region_median=region_median(values[name]),
        )
        for name, label in FIGURES
    ]
    return MyReport(
        partner_id=partner.id,
        partner_name=partner.display_name,
        region_name=region.name if region else "",
        group_size=group_size,
        comparable=comparable,
        figures=figures,
    )
