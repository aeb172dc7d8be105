"""Who reads which rows of reporting: brand roles their brand, a region manager its region,
a partner's users their partner; filters outside the scope are not found."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from core.errors import NotFound
from core.policy import ROLE_PERMISSIONS, Grant, Permission, Principal
from domain.roles import Role, ScopeType
from services.reporting.scope import check, scope_for
from services.reporting.shapes import ReportQuery
from tests.reporting.report_builders import World


def test_report_read_goes_with_campaign_read() -> None:
    for role, perms in ROLE_PERMISSIONS.items():
        assert (Permission.report_read in perms) == (Permission.campaign_read in perms), role


def test_scope_per_role_and_filters_outside_it(db: Engine) -> None:
    with Session(db) as s:
        w = World.build(s, "acme", {"North": 2, "South": 1})
        other = World.build(s, "rival", {"East": 1})
        c = w.campaign(s)
        rival_campaign = other.campaign(s)
        s.commit()
        north, south = w.regions["North"], w.regions["South"]
        n1, so = w.partners["North-1"], w.partners["South-1"]

        def principal(*grants: Grant) -> Principal:
            return Principal(1, w.brand_id, "x@example.com", grants)

        hq = scope_for(s, principal(Grant(Role.brand_marketer, ScopeType.brand, w.brand_id)))
        assert hq.whole_brand and not hq.partner_only
        rm = scope_for(
            s, principal(Grant(Role.region_manager, ScopeType.region, w.brand_id, north))
        )
        assert not rm.whole_brand and rm.region_ids == {north} and not rm.partner_only
        gm = scope_for(
            s, principal(Grant(Role.partner_manager, ScopeType.partner, w.brand_id, north, n1))
        )
        assert gm.partner_only and gm.partner_ids == {n1}
        editor = scope_for(
            s, principal(Grant(Role.partner_editor, ScopeType.partner, w.brand_id, north, n1))
        )
        assert editor.partner_ids == {n1}

        check(s, hq, ReportQuery(region_id=south, partner_id=so, campaign_id=c))
        check(s, rm, ReportQuery(region_id=north, partner_id=n1, campaign_id=c))
        for q in (
            ReportQuery(region_id=south),
            ReportQuery(partner_id=so),
            ReportQuery(region_id=other.regions["East"]),
        ):
            with pytest.raises(NotFound):
                check(s, rm, q)
        with pytest.raises(NotFound):
            check(s, gm, ReportQuery(partner_id=w.partners["North-2"]))
        with pytest.raises(NotFound):
            check(s, hq, ReportQuery(campaign_id=rival_campaign))
        with pytest.raises(NotFound):
            check(s, hq, ReportQuery(partner_id=other.partners["East-1"]))
        assert rm.keeps(ReportQuery(), north, n1, c) and not rm.keeps(ReportQuery(), south, so, c)
