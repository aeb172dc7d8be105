"""Quality (refusals by rule, rounds per submission) and the trend over weeks and months."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from domain.states import PartnerCampaignState as PC
from models.reporting import ContentRefusal
from services.reporting.engagement import delivery
from services.reporting.quality import quality
from services.reporting.scope import ReportScope
from services.reporting.shapes import ReportQuery
from services.reporting.trend import trend
from tests.reporting.report_builders import T0, World

DAY = timedelta(days=1)


def test_refusals_by_rule_and_rounds_per_submission(db: Engine) -> None:
    with Session(db) as s:
        w = World.build(s, "acme", {"North": 2, "South": 1})
        c = w.campaign(s)
        a, b, south = (w.invite(s, c, p) for p in ("North-1", "North-2", "South-1"))
        for row, rule in ((a, "restricted_word"), (a, "restricted_word"), (b, "too_long")):
            s.add(
                ContentRefusal(
                    brand_id=w.brand_id,
                    region_id=row.region_id,
                    partner_id=row.partner_id,
                    campaign_id=c,
                    partner_campaign_id=row.id or 0,
                    action="submit",
                    rule=rule,
                    field="headline",
                    at=T0,
                )
            )
        # a: submitted, sent back, submitted again; b: once; South: once (outside the scope).
        w.move(s, a, "submit", PC.pending_approval, T0)
        w.move(s, a, "request_changes", PC.changes_requested, T0 + DAY)
        w.move(s, a, "submit", PC.pending_approval, T0 + 2 * DAY)
        w.move(s, b, "submit", PC.pending_approval, T0)
        w.move(s, south, "submit", PC.pending_approval, T0)
        s.commit()
        north = ReportScope(w.brand_id, False, frozenset({w.regions["North"]}))
        report = quality(s, north, ReportQuery())
        assert [(r.rule, r.label, r.count) for r in report.refusals] == [
            ("restricted_word", "Restricted word", 2),
            ("too_long", "Too long", 1),
        ]
        assert report.refusals_total == 3
        assert (report.submissions, report.changes_requested) == (3, 1)
        assert report.rounds_per_submission == 1.5
        later = quality(s, north, ReportQuery(since=(T0 + DAY).date()))
        assert later.refusals == [] and later.submissions == 1
        empty = quality(s, ReportScope(w.brand_id + 9, True), ReportQuery())
        assert empty.rounds_per_submission is None and empty.submissions == 0


def test_trend_per_week_and_month_with_empty_periods(db: Engine) -> None:
    with Session(db) as s:
        w = World.build(s, "acme", {"North": 2})
        c = w.campaign(s)
        a = w.invite(s, c, "North-1")
        b = w.invite(s, c, "North-2")
        w.move(s, a, "submit", PC.pending_approval, T0)
        w.move(s, a, "approve", PC.approved, T0 + DAY)
        w.move(s, b, "submit", PC.pending_approval, T0 + 14 * DAY)
        w.deliveries(s, a, 4, T0 + 2 * DAY, opened=2)  # opens on day 3, same week
        w.deliveries(s, b, 3, T0 + 30 * DAY, clicked=1)
        s.commit()
        scope = ReportScope(w.brand_id, True)
        weeks = trend(s, scope, ReportQuery(period="week"))
        assert weeks.period == "week"
        starts = [p.start for p in weeks.points]
        assert starts[0] == date(2026, 3, 2) and all(d.weekday() == 0 for d in starts)
        assert starts == [date(2026, 3, 2) + timedelta(weeks=n) for n in range(len(starts))]
        first, third = weeks.points[0].figures, weeks.points[2].figures
        assert (first["submissions"], first["approvals"], first["sent"]) == (1, 1, 4)
        assert first["opened_unique"] == 2
        assert weeks.points[1].figures["submissions"] == 0
        assert third["submissions"] == 1
        total_sent = sum(p.figures["sent"] for p in weeks.points)
        assert total_sent == delivery(s, scope, ReportQuery()).total[0].figures["sent"] == 7

        months = trend(s, scope, ReportQuery(period="month", since=date(2026, 2, 10)))
        assert [p.start for p in months.points] == [
            date(2026, 2, 1),
            date(2026, 3, 1),
            date(2026, 4, 1),
        ]
        assert months.points[0].figures["sent"] == 0
        assert months.points[1].figures["sent"] == 4 and months.points[2].figures["sent"] == 3
