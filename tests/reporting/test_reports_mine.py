"""A partner's own report: its figures next to its region's median, and only when the region
has enough partners with data that no other partner's figure shows through."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from core.errors import FieldError, NotFound
from core.policy import Grant, Principal
from domain.roles import Role, ScopeType
from domain.states import PartnerCampaignState as PC
from services.reporting.mine import my_report
from services.reporting.scope import ReportScope, scope_for
from services.reporting.shapes import MIN_GROUP, ReportQuery
from tests.reporting.report_builders import T0, World

H = 3600


def _region(s: Session, w: World, region: str, n: int) -> None:
    """Partner k of the region: one campaign, submitted after k days,
    approved after k hours, 10*k messages sent, k opened."""
    c = w.campaign(s, f"C-{region}")
    for k in range(1, n + 1):
        row = w.invite(s, c, f"{region}-{k}")
        w.move(s, row, "submit", PC.pending_approval, T0)
        w.cycle(s, row, "to_submission", k * 86400)
        w.cycle(s, row, "to_approval", k * H)
        w.deliveries(s, row, 10 * k, T0, opened=k)


def _principal(w: World, partner: str, role: Role = Role.partner_editor) -> Principal:
    pid = w.partners[partner]
    grant = Grant(role, ScopeType.partner, w.brand_id, w.region_of[pid], pid)
    return Principal(1, w.brand_id, "p@example.com", (grant,))


def test_own_figures_next_to_region_median(db: Engine) -> None:
    with Session(db) as s:
        w = World.build(s, "acme", {"North": 5, "South": 4})
        _region(s, w, "North", 5)
        _region(s, w, "South", 4)
        s.commit()
        scope = scope_for(s, _principal(w, "North-2"))
        report = my_report(s, scope, ReportQuery())
        assert (report.partner_name, report.region_name) == ("North-2", "North")
        assert report.group_size == MIN_GROUP == 5 and report.comparable
        fig = {c.metric: c for c in report.figures}
        assert (fig["submitted"].own, fig["submitted"].region_median) == (1, 1)
        assert (fig["days_to_submission"].own, fig["days_to_submission"].region_median) == (2, 3)
        assert (fig["approval_hours"].own, fig["approval_hours"].region_median) == (2, 3)
        assert (fig["sent"].own, fig["sent"].region_median) == (20, 30)
        assert fig["open_rate"].own == 0.1 and fig["open_rate"].region_median == 0.1

        # South has four partners with data: not comparable, no region figure at all.
        south = my_report(
            s, scope_for(s, _principal(w, "South-1", Role.partner_manager)), ReportQuery()
        )
        assert south.group_size == 4 and not south.comparable
        assert all(c.region_median is None for c in south.figures)
        assert {c.metric: c.own for c in south.figures}["sent"] == 10


def test_never_another_partners_figures(db: Engine) -> None:
    with Session(db) as s:
        w = World.build(s, "acme", {"North": 5})
        rival = World.build(s, "rival", {"East": 1})
        _region(s, w, "North", 5)
        s.commit()
        scope = scope_for(s, _principal(w, "North-1"))
        with pytest.raises(NotFound):
            my_report(s, scope, ReportQuery(partner_id=w.partners["North-2"]))
        with pytest.raises(NotFound):
            my_report(s, scope, ReportQuery(partner_id=rival.partners["East-1"]))
        with pytest.raises(FieldError):
            my_report(s, ReportScope(w.brand_id, True), ReportQuery())
        # HQ may look at a partner's own report, naming it.
        hq = my_report(
            s, ReportScope(w.brand_id, True), ReportQuery(partner_id=w.partners["North-5"])
        )
        assert {c.metric: c.own for c in hq.figures}["sent"] == 50
        # The period narrows the data: before it nobody has any.
        before = my_report(s, scope, ReportQuery(until=(T0 - timedelta(days=1)).date()))
        assert before.group_size == 0 and not before.comparable
