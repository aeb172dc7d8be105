"""Delivery and engagement: the same columns per group and channel, and the same figures
whether closed days come from the rollup's aggregates or are counted live."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from models.org import Brand
from models.reporting import ReportDaily, RollupWatermark
from services.reporting.engagement import delivery
from services.reporting.metrics import count_metrics
from services.reporting.periods import daily_figures, midnight
from services.reporting.scope import ReportScope
from services.reporting.shapes import DELIVERY_COLUMNS, ReportQuery
from tests.reporting.report_builders import T0, World

DAY = timedelta(days=1)


def _sends(s: Session, w: World) -> int:
    c = w.campaign(s, "Spring")
    n1 = w.invite(s, c, "North-1")
    n2 = w.invite(s, c, "North-2")
    so = w.invite(s, c, "South-1")
    w.deliveries(s, n1, 10, T0, opened=4, clicked=2, bounced=1)
    w.deliveries(s, n2, 5, T0 + 2 * DAY, opened=5)
    w.deliveries(s, so, 3, T0 + 5 * DAY, clicked=3)
    return c


def _close(s: Session, brand_id: int, until: date) -> None:
    """What the rollup stores: count_metrics of each closed day, and the watermark."""
    for key, value in count_metrics(
        s, brand_id, midnight(date(2026, 1, 1)), midnight(until)
    ).items():
        s.add(
            ReportDaily(
                brand_id=brand_id,
                day=key.day,
                region_id=key.region_id,
                partner_id=key.partner_id,
                campaign_id=key.campaign_id,
                channel=key.channel,
                metric=key.metric,
                value=value,
            )
        )
    s.add(RollupWatermark(brand_id=brand_id, closed_until=until))
    s.commit()


def test_columns_per_group_and_channel(db: Engine) -> None:
    with Session(db) as s:
        w = World.build(s, "acme", {"North": 2, "South": 1})
        _sends(s, w)
        brand = s.get(Brand, w.brand_id)
        assert brand is not None
        brand.open_tracking = True
        s.commit()
        report = delivery(s, ReportScope(w.brand_id, True), ReportQuery(group="region"))
        by = {r.label: r for r in report.rows}
        north = by["North"].figures
        assert list(north) == list(DELIVERY_COLUMNS)
        assert by["North"].channel == "email"
        assert (north["recipients"], north["sent"], north["delivered"], north["bounced"]) == (
            15,
            15,
            14,
            1,
        )
        # North-1's first message bounced: its opens are not written.
        assert (north["opened"], north["opened_unique"], north["clicked_unique"]) == (16, 8, 1)
        assert by["South"].figures["clicked_unique"] == 3
        assert [(t.label, t.channel, t.figures["sent"]) for t in report.total] == [
            ("All", "email", 18),
            ("All", "sms", 0),
        ]
        assert report.tracking_on
        other = delivery(s, ReportScope(w.brand_id, True), ReportQuery(channel="sms"))
        assert other.rows == [] and [t.figures["sent"] for t in other.total] == [0]


def test_email_and_sms_side_by_side(db: Engine) -> None:
    """Each delivery and its events count under the row's channel, in the same columns."""
    with Session(db) as s:
        w = World.build(s, "acme", {"North": 1})
        c = w.campaign(s, "Open day")
        row = w.invite(s, c, "North-1")
        w.deliveries(s, row, 6, T0, opened=3, clicked=2)
        w.deliveries(s, row, 4, T0, clicked=1, channel="sms")
        s.commit()
        scope = ReportScope(w.brand_id, True)
        report = delivery(s, scope, ReportQuery(group="region"))
        by = {(r.label, r.channel): r.figures for r in report.rows}
        assert (by["North", "email"]["sent"], by["North", "sms"]["sent"]) == (6, 4)
        assert (by["North", "email"]["clicked"], by["North", "sms"]["clicked"]) == (2, 1)
        assert by["North", "sms"]["opened"] == 0 and by["North", "email"]["opened_unique"] == 3
        totals = {t.channel: t.figures["recipients"] for t in report.total}
        assert totals == {"email": 6, "sms": 4}
        only = delivery(s, scope, ReportQuery(group="region", channel="sms"))
        assert [(r.channel, r.figures["sent"]) for r in only.rows] == [("sms", 4)]
        # the rollup's aggregates keep the channel: closed days read the same
        _close(s, w.brand_id, T0.date() + 3 * DAY)
        assert delivery(s, scope, ReportQuery(group="region")) == report


def test_aggregates_plus_live_equal_live_only(db: Engine) -> None:
    with Session(db) as s:
        w = World.build(s, "acme", {"North": 2, "South": 1})
        _sends(s, w)
        s.commit()
        scope = ReportScope(w.brand_id, True)
        queries = [
            ReportQuery(group=g, since=since, until=until)
            for g in ("campaign", "region", "partner")
            for since, until in (
                (None, None),
                (T0.date() + DAY, None),
                (T0.date(), T0.date() + 3 * DAY),
                (T0.date() + 4 * DAY, T0.date() + 9 * DAY),
            )
        ]
        live = [delivery(s, scope, q) for q in queries]
        live_days = daily_figures(s, scope, ReportQuery(), key="day")
        _close(s, w.brand_id, T0.date() + 3 * DAY)
        assert [delivery(s, scope, q) for q in queries] == live
        assert daily_figures(s, scope, ReportQuery(), key="day") == live_days
        # The closed days are read from the aggregates: a corrected aggregate shows.
        s.add(
            ReportDaily(
                brand_id=w.brand_id,
                day=T0.date(),
                region_id=w.regions["North"],
                partner_id=w.partners["North-1"],
                campaign_id=live[0].rows[0].key or 0,
                channel="email",
                metric="engagement.unsubscribed",
                value=2,
            )
        )
        s.commit()
        after = delivery(s, scope, ReportQuery(group="region"))
        assert {r.label: r.figures["unsubscribed"] for r in after.rows} == {"North": 2, "South": 0}


def test_scope_narrows_delivery(db: Engine) -> None:
    with Session(db) as s:
        w = World.build(s, "acme", {"North": 2, "South": 1})
        _sends(s, w)
        s.commit()
        _close(s, w.brand_id, T0.date() + DAY)
        south = ReportScope(w.brand_id, False, frozenset({w.regions["South"]}))
        report = delivery(s, south, ReportQuery(group="partner"))
        assert [r.label for r in report.rows] == ["South-1"]
        assert report.total[0].figures["sent"] == 3
        partner = ReportScope(w.brand_id, False, partner_ids=frozenset({w.partners["North-2"]}))
        assert delivery(s, partner, ReportQuery()).total[0].figures["sent"] == 5
        assert delivery(s, ReportScope(w.brand_id + 99, True), ReportQuery()).rows == []
