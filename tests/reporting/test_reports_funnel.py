"""The participation funnel counts the steps partner campaigns reached, and lists who is
stuck since when."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from domain.states import PartnerCampaignState as PC
from services.reporting.funnel import STUCK_LIMIT, funnel
from services.reporting.scope import ReportScope
from services.reporting.shapes import ReportQuery
from tests.reporting.report_builders import T0, World


def _journeys(s: Session, w: World) -> int:
    """North-1 sent, North-2 approved, North-3 declined after drafting, North-4 expired while
    invited, South-1 rejected, South-2 still drafting."""
    c = w.campaign(s, "Spring")
    day = timedelta(days=1)
    sent = w.invite(s, c, "North-1")
    w.move(s, sent, "open", PC.drafting, T0 + day)
    w.move(s, sent, "submit", PC.pending_approval, T0 + 2 * day)
    w.move(s, sent, "approve", PC.approved, T0 + 3 * day)
    w.move(s, sent, "send", PC.sending, T0 + 4 * day)
    w.move(s, sent, "sent", PC.sent, T0 + 4 * day)
    approved = w.invite(s, c, "North-2")
    w.move(s, approved, "open", PC.drafting, T0 + day)
    w.move(s, approved, "submit", PC.pending_approval, T0 + 2 * day)
    w.move(s, approved, "approve", PC.approved, T0 + 3 * day)
    declined = w.invite(s, c, "North-3")
    w.move(s, declined, "open", PC.drafting, T0 + day)
    w.move(s, declined, "decline", PC.declined, T0 + 2 * day)
    expired = w.invite(s, c, "North-4")
    w.move(s, expired, "expire", PC.expired, T0 + 9 * day)
    rejected = w.invite(s, c, "South-1")
    w.move(s, rejected, "open", PC.drafting, T0 + day)
    w.move(s, rejected, "submit", PC.pending_approval, T0 + 2 * day)
    w.move(s, rejected, "reject", PC.rejected, T0 + 3 * day)
    drafting = w.invite(s, c, "South-2")
    w.move(s, drafting, "open", PC.drafting, T0 + day)
    return c


def test_steps_reached_nest_and_endings_count(db: Engine) -> None:
    with Session(db) as s:
        w = World.build(s, "acme", {"North": 4, "South": 2})
        c = _journeys(s, w)
        s.commit()
        scope = ReportScope(w.brand_id, whole_brand=True)
        report = funnel(s, scope, ReportQuery(group="region"), now=T0 + timedelta(days=3))
        by = {r.label: r for r in report.rows}
        north, south = by["North"], by["South"]
        assert (north.invited, north.drafting, north.submitted, north.approved, north.sent) == (
            4,
            3,
            2,
            2,
            1,
        )
        assert (north.declined, north.expired, north.rejected) == (1, 1, 0)
        assert (south.invited, south.drafting, south.submitted, south.approved) == (2, 2, 1, 0)
        assert south.rejected == 1
        assert report.total.invited == 6 and report.total.submitted == 3
        assert report.total.label == "All" and report.total.key is None

        per_campaign = funnel(s, scope, ReportQuery(group="campaign", campaign_id=c), now=T0)
        assert [(r.key, r.label, r.invited) for r in per_campaign.rows] == [(c, "Spring", 6)]
        per_partner = funnel(s, scope, ReportQuery(group="partner", region_id=w.regions["South"]))
        assert {r.label for r in per_partner.rows} == {"South-1", "South-2"}


def test_stuck_are_waiting_partners_past_the_rule_oldest_first(db: Engine) -> None:
    with Session(db) as s:
        w = World.build(s, "acme", {"North": 3})
        soon = w.campaign(s, "Soon", personalise_until=T0 + timedelta(days=10))
        later = w.campaign(s, "Later")
        quiet = w.invite(s, later, "North-1")
        w.move(s, quiet, "open", PC.drafting, T0 + timedelta(days=1))
        fresh = w.invite(s, later, "North-2")
        w.move(s, fresh, "open", PC.drafting, T0 + timedelta(days=8))
        w.invite(s, soon, "North-3", at=T0 + timedelta(days=2))
        s.commit()
        scope = ReportScope(w.brand_id, whole_brand=True)
        # Day 9: North-1 has not moved for 8 days, North-3's deadline is a day away, North-2
        # moved yesterday and its deadline is far.
        report = funnel(s, scope, ReportQuery(), now=T0 + timedelta(days=9))
        assert [(i.partner_name, i.state, i.since) for i in report.stuck] == [
            ("North-1", "drafting", T0 + timedelta(days=1)),
            ("North-3", "invited", T0 + timedelta(days=2)),
        ]
        assert report.stuck[1].campaign_name == "Soon" and report.stuck[1].region_name == "North"
        # Day 5: nobody has waited 7 days and no deadline is near.
        assert funnel(s, scope, ReportQuery(), now=T0 + timedelta(days=5)).stuck == []
        assert STUCK_LIMIT == 50


def test_since_and_until_select_invitations_of_the_period(db: Engine) -> None:
    with Session(db) as s:
        w = World.build(s, "acme", {"North": 2})
        c = w.campaign(s)
        w.invite(s, c, "North-1", at=T0)
        w.invite(s, c, "North-2", at=T0 + timedelta(days=10))
        s.commit()
        scope = ReportScope(w.brand_id, whole_brand=True)
        first = ReportQuery(since=T0.date(), until=(T0 + timedelta(days=10)).date())
        assert funnel(s, scope, first).total.invited == 1
        assert (
            funnel(s, scope, ReportQuery(since=(T0 + timedelta(days=10)).date())).total.invited == 1
        )
