"""The demo's past campaigns for the reports: final states, facts with North faster than South,
refusals and a delivery ledger with engagement; the same every run, and a re-run adds nothing."""

from __future__ import annotations

import statistics
import time
from collections import Counter

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from domain.states import PARTNER_CAMPAIGN_FINAL
from models.campaigns import Campaign, PartnerCampaign
from models.delivery import Delivery, DeliveryEvent
from models.org import Region
from models.reporting import ContentRefusal, CycleTime, TransitionFact
from scripts.demo.approvals import seed_demo_approvals
from scripts.demo.contacts import seed_demo_contacts
from scripts.demo.history import HISTORY, seed_demo_history


def seeded(engine: Engine) -> None:
    with Session(engine) as s:
        seed_demo_contacts(s)
        seed_demo_approvals(s)
        s.commit()


def test_history_is_realistic_deterministic_and_idempotent(demo: Engine) -> None:
    seeded(demo)
    with Session(demo) as s:
        started = time.perf_counter()
        done = seed_demo_history(s)
        s.commit()
        took = time.perf_counter() - started
    assert took < 3, f"history took {took:.2f} s"
    assert done.campaigns == 3 and done.partner_campaigns == 18
    with Session(demo) as s:
        names = s.exec(select(Campaign.name).where(col(Campaign.name).in_([n for n, _ in HISTORY])))
        assert sorted(names.all()) == sorted(n for n, _ in HISTORY)
        states = Counter(s.exec(select(PartnerCampaign.state)).all())
        assert set(states) <= PARTNER_CAMPAIGN_FINAL
        assert states["sent"] == 14 and states["declined"] == 2
        assert states["expired"] == 1 and states["rejected"] == 1
        # Waits differ by region: South's GMs are slower than North's.
        regions = {r.id: r.name for r in s.exec(select(Region)).all()}
        gm: dict[str, list[int]] = {"North": [], "South": []}
        for row in s.exec(select(CycleTime).where(CycleTime.stage == "gm")).all():
            gm[regions[row.region_id]].append(row.seconds)
        assert statistics.median(gm["North"]) < statistics.median(gm["South"])
        kinds = Counter(s.exec(select(CycleTime.kind)).all())
        assert kinds["to_submission"] == 15 and kinds["to_approval"] >= 15
        rules = set(s.exec(select(ContentRefusal.rule)).all())
        assert rules and rules <= {"restricted_word", "too_long", "asset_expired"}
        events = Counter(s.exec(select(DeliveryEvent.kind)).all())
        assert events["delivered"] > events["opened"] // 2 > 0
        assert events["clicked"] > 0 and events["bounced"] > 0
        counts = (
            s.exec(select(func.count()).select_from(TransitionFact)).one(),
            s.exec(select(func.count()).select_from(Delivery)).one(),
            s.exec(select(func.count()).select_from(DeliveryEvent)).one(),
        )
        assert counts == (done.facts, done.deliveries, done.events)
        again = seed_demo_history(s)
        s.commit()
    assert again.campaigns == again.partner_campaigns == again.deliveries == 0
    with Session(demo) as s:
        assert s.exec(select(func.count()).select_from(DeliveryEvent)).one() == counts[2]
