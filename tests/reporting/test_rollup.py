"""The daily rollup: closed days equal the live counts, reruns change nothing, the watermark
moves, the look-back picks up late facts, brands stay apart."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from domain.states import DeliveryStatus
from models.delivery import Delivery, DeliveryEvent
from models.org import Brand
from models.reporting import ContentRefusal, ReportDaily, RollupWatermark, TransitionFact
from services.reporting.metrics import MetricKey, count_metrics
from services.reporting.rollup import brands_to_roll, midnight, roll_up
from tests.delivery.test_delivery import good_values, open_day_row

TODAY = date(2026, 3, 10)
Row = tuple[date, int, int, int, str, str, int]


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def brand_id(engine: Engine, slug: str) -> int:
    with Session(engine) as s:
        found = s.exec(select(Brand.id).where(Brand.slug == slug)).one()
        assert found is not None
        return found


def add_fact(
    engine: Engine,
    brand: int,
    when: datetime,
    event: str = "submit",
    states: tuple[str, str] = ("drafting", "pending_approval"),
    partner: int = 1,
    campaign: int = 1,
) -> None:
    with Session(engine) as s:
        s.add(
            TransitionFact(
                key=f"wf-{uuid.uuid4().hex}:1:{event}",
                brand_id=brand,
                region_id=10 + partner,
                partner_id=partner,
                campaign_id=campaign,
                partner_campaign_id=100 + partner,
                seq=1,
                event=event,
                from_state=states[0],
                to_state=states[1],
                at=when,
            )
        )
        s.commit()


def add_refusal(engine: Engine, brand: int, when: datetime) -> None:
    with Session(engine) as s:
        s.add(
            ContentRefusal(
                brand_id=brand,
                region_id=11,
                partner_id=1,
                campaign_id=1,
                partner_campaign_id=101,
                action="submit",
                rule="required",
                field="headline",
                at=when,
            )
        )
        s.commit()


def add_delivery(engine: Engine, pcid: int, sent: datetime, events: list[str]) -> None:
    """One recipient sent at `sent`, with engagement events an hour apart after it."""
    with Session(engine) as s:
        from models.campaigns import PartnerCampaign

        row = s.get(PartnerCampaign, pcid)
        assert row is not None
        d = Delivery(
            partner_campaign_id=pcid,
            brand_id=row.brand_id,
            partner_id=row.partner_id,
            email=f"{uuid.uuid4().hex[:8]}@customers.example",
            status=DeliveryStatus.sent,
            created_at=sent - timedelta(hours=1),
            updated_at=sent,
            sent_at=sent,
        )
        s.add(d)
        s.flush()
        for i, kind in enumerate(events):
            s.add(
                DeliveryEvent(
                    delivery_id=d.id or 0,
                    brand_id=row.brand_id,
                    partner_id=row.partner_id,
                    partner_campaign_id=pcid,
                    kind=kind,
                    key=f"{d.id}:{i}:{kind}",
                    at=sent + timedelta(hours=i + 1),
                )
            )
        s.commit()


def stored(engine: Engine, brand: int) -> Counter[Row]:
    with Session(engine) as s:
        rows = s.exec(select(ReportDaily).where(ReportDaily.brand_id == brand)).all()
        return Counter(
            (r.day, r.region_id, r.partner_id, r.campaign_id, r.channel, r.metric, r.value)
            for r in rows
        )


def live(engine: Engine, brand: int, start: date, end: date) -> Counter[Row]:
    with Session(engine) as s:
        counts: dict[MetricKey, int] = count_metrics(s, brand, midnight(start), midnight(end))
    return Counter(
        (k.day, k.region_id, k.partner_id, k.campaign_id, k.channel, k.metric, v)
        for k, v in counts.items()
        if v
    )


def watermark(engine: Engine, brand: int) -> date | None:
    with Session(engine) as s:
        found = s.get(RollupWatermark, brand)
        return found.closed_until if found else None


def metric_total(engine: Engine, brand: int, metric: str, day: date | None = None) -> int:
    return sum(
        r[6] for r in stored(engine, brand) if r[5] == metric and (day is None or r[0] == day)
    )


def seed_days(engine: Engine, brand: int) -> None:
    """Facts on four days before TODAY and on TODAY itself; deliveries and engagement."""
    first = TODAY - timedelta(days=4)
    add_fact(engine, brand, at(first), "open", ("invited", "drafting"))
    add_fact(engine, brand, at(first, 23), "open", ("invited", "drafting"), partner=2)
    add_fact(engine, brand, at(first + timedelta(days=1), 0), "submit")
    add_refusal(engine, brand, at(first + timedelta(days=1), 8))
    add_fact(engine, brand, at(first + timedelta(days=2)), "vote", ("pending_approval",) * 2)
    add_fact(
        engine, brand, at(first + timedelta(days=3)), "approve", ("pending_approval", "approved")
    )
    add_fact(engine, brand, at(TODAY, 1), "schedule", ("approved", "scheduled"))


def test_closed_days_equal_the_live_counts_and_a_rerun_changes_nothing(demo: Engine) -> None:
    north = brand_id(demo, "northwind")
    seed_days(demo, north)
    pcid = open_day_row(demo, good_values(), None, state="sent")
    for hour in (10, 22):  # opened twice by one recipient: one unique open
        add_delivery(
            demo, pcid, at(TODAY - timedelta(days=2), hour), ["delivered", "opened", "opened"]
        )

    result = roll_up(demo, north, TODAY)
    assert result.closed_from == TODAY - timedelta(days=4)
    assert result.closed_until == TODAY == watermark(demo, north)
    first = stored(demo, north)
    assert first == live(demo, north, TODAY - timedelta(days=4), TODAY)
    assert result.rows == len(first)
    assert metric_total(demo, north, "event.schedule") == 0  # today is not closed
    assert metric_total(demo, north, "state.drafting", TODAY - timedelta(days=4)) == 2
    assert metric_total(demo, north, "refused.required") == 1
    assert metric_total(demo, north, "delivery.sent") == 2
    assert metric_total(demo, north, "engagement.opened") == 4
    # The second recipient's first open is 22:00 + 2h: the next day.
    assert metric_total(demo, north, "engagement.opened_unique", TODAY - timedelta(days=2)) == 1
    assert metric_total(demo, north, "engagement.opened_unique", TODAY - timedelta(days=1)) == 1

    again = roll_up(demo, north, TODAY)
    assert stored(demo, north) == first
    assert again.closed_until == TODAY and again.closed_from == TODAY - timedelta(days=2)
    assert again.rows == sum(1 for r in first if r[0] >= TODAY - timedelta(days=2))


def test_the_watermark_moves_and_days_after_it_are_closed_by_the_next_run(db: Engine) -> None:
    with Session(db) as s:
        s.add(Brand(slug="solo", name="Solo"))
        s.commit()
    brand = brand_id(db, "solo")
    assert roll_up(db, brand, TODAY).rows == 0
    assert watermark(db, brand) == TODAY  # no facts at all: nothing to count, closed anyway

    add_fact(db, brand, at(TODAY, 9))
    assert metric_total(db, brand, "event.submit") == 0
    later = roll_up(db, brand, TODAY + timedelta(days=3), lookback_days=0)
    assert (later.closed_from, later.closed_until, later.days) == (
        TODAY,
        TODAY + timedelta(days=3),
        3,
    )
    assert watermark(db, brand) == TODAY + timedelta(days=3)
    assert metric_total(db, brand, "event.submit", TODAY) == 1
    # The clock never moves a watermark back.
    roll_up(db, brand, TODAY, lookback_days=0)
    assert watermark(db, brand) == TODAY + timedelta(days=3)


def test_the_look_back_recloses_a_late_fact_and_a_rebuild_reaches_older_ones(db: Engine) -> None:
    with Session(db) as s:
        s.add(Brand(slug="late", name="Late"))
        s.commit()
    brand = brand_id(db, "late")
    add_fact(db, brand, at(TODAY - timedelta(days=10)))
    roll_up(db, brand, TODAY, lookback_days=2)
    assert metric_total(db, brand, "event.submit") == 1

    # SES feedback (here: a fact) for yesterday arrives after yesterday was closed.
    add_fact(db, brand, at(TODAY - timedelta(days=1), 23))
    add_fact(db, brand, at(TODAY - timedelta(days=6)))  # older than the look-back
    rerun = roll_up(db, brand, TODAY, lookback_days=2)
    assert rerun.closed_from == TODAY - timedelta(days=2)
    assert metric_total(db, brand, "event.submit", TODAY - timedelta(days=1)) == 1
    assert metric_total(db, brand, "event.submit", TODAY - timedelta(days=6)) == 0

    rebuilt = roll_up(db, brand, TODAY, rebuild=True)
    assert rebuilt.closed_from == TODAY - timedelta(days=10)
    assert metric_total(db, brand, "event.submit") == 3
    assert stored(db, brand) == live(db, brand, TODAY - timedelta(days=10), TODAY)


def test_day_by_day_chunks_store_the_same_rows(db: Engine) -> None:
    with Session(db) as s:
        s.add_all([Brand(slug="weekly", name="Weekly"), Brand(slug="daily", name="Daily")])
        s.commit()
    weekly, daily = brand_id(db, "weekly"), brand_id(db, "daily")
    for brand in (weekly, daily):
        for n in range(1, 12):
            add_fact(db, brand, at(TODAY - timedelta(days=n)), partner=n % 3 + 1)
    roll_up(db, weekly, TODAY, chunk_days=7)
    roll_up(db, daily, TODAY, chunk_days=1)
    assert stored(db, weekly) == stored(db, daily)
    assert sum(stored(db, daily).values()) > 0


def test_two_brands_are_rolled_up_independently(demo: Engine) -> None:
    north, contoso = brand_id(demo, "northwind"), brand_id(demo, "contoso")
    assert brands_to_roll(demo) == sorted([north, contoso])
    seed_days(demo, north)
    add_fact(demo, contoso, at(TODAY - timedelta(days=1)), "decline", ("drafting", "declined"))

    roll_up(demo, north, TODAY)
    assert watermark(demo, contoso) is None and stored(demo, contoso) == Counter()
    assert metric_total(demo, north, "event.decline") == 0

    roll_up(demo, contoso, TODAY)
    assert metric_total(demo, contoso, "state.declined") == 1
    assert set(stored(demo, contoso)) == set(live(demo, contoso, TODAY - timedelta(days=1), TODAY))
    north_rows = stored(demo, north)
    # Re-closing one brand's days leaves the other's rows alone.
    roll_up(demo, contoso, TODAY, rebuild=True)
    assert stored(demo, north) == north_rows
    with Session(demo) as s:
        brands = set(s.exec(select(col(ReportDaily.brand_id)).distinct()).all())
    assert brands == {north, contoso}
