"""Time to market: medians and p90s per region and stage from cycle times, overdue approvals
with who holds them, escalations."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from domain.roles import Role
from domain.states import PartnerCampaignState as PC
from domain.states import TaskKind
from models.campaigns import ApprovalTask
from services.reporting.scope import ReportScope
from services.reporting.shapes import ReportQuery
from services.reporting.timing import percentile, time_to_market
from tests.reporting.report_builders import T0, World

H = 3600


def test_percentile_is_continuous() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([10.0, 20.0, 30.0, 40.0, 50.0], 0.9) == 46.0


def test_medians_and_p90_per_region_and_stage(db: Engine) -> None:
    with Session(db) as s:
        w = World.build(s, "acme", {"North": 4, "South": 1})
        c = w.campaign(s)
        rows = {p: w.invite(s, c, p) for p in ("North-1", "North-2", "North-3", "North-4")}
        south = w.invite(s, c, "South-1")
        for n, row in enumerate(rows.values(), start=1):
            w.cycle(s, row, "to_submission", n * 10 * H)
            w.cycle(s, row, "to_approval", n * H)
            w.cycle(s, row, "stage", n * H, stage="gm")
        # Refusals and requests for changes end a wait but are not approvals.
        w.cycle(s, rows["North-1"], "to_approval", 500 * H, outcome="reject")
        w.cycle(s, south, "to_submission", 100 * H)
        w.cycle(s, south, "to_approval", 7 * H)
        w.cycle(s, south, "stage", 3 * H, stage="gm")
        w.cycle(s, south, "stage", 4 * H, stage="hq")
        # Outside the period: not counted.
        w.cycle(s, south, "to_approval", 900 * H, ended=T0 - timedelta(days=30))
        w.move(s, south, "escalate", None, T0)
        w.move(s, south, "escalate", None, T0 - timedelta(days=30))
        s.commit()
        scope = ReportScope(w.brand_id, whole_brand=True)
        q = ReportQuery(since=T0.date(), until=(T0 + timedelta(days=1)).date())
        report = time_to_market(s, scope, q, now=T0)

        sub = {r.label: r for r in report.to_submission}
        assert [r.label for r in report.to_submission] == ["North", "South", "All"]
        assert (sub["North"].count, sub["North"].median_seconds) == (4, 25 * H)
        assert sub["North"].p90_seconds == 37 * H  # 30h + 0.7 * 10h
        assert sub["South"].median_seconds == 100 * H
        assert sub["All"].count == 5 and sub["All"].median_seconds == 30 * H
        assert sub["All"].region_id is None

        appr = {r.label: r for r in report.to_approval}
        assert appr["North"].count == 4 and appr["North"].median_seconds == 2.5 * H
        assert appr["All"].count == 5 and appr["All"].median_seconds == 3 * H

        stages = [(r.stage, r.label, r.count, r.median_seconds) for r in report.stages]
        assert stages == [
            ("gm", "North", 4, 2.5 * H),
            ("gm", "South", 1, 3 * H),
            ("gm", "All", 5, 3 * H),
            ("hq", "South", 1, 4 * H),
            ("hq", "All", 1, 4 * H),
        ]
        assert report.escalations == 1
        assert sorted(report.approval_hours) == [1.0, 2.0, 3.0, 4.0, 7.0]

        north_only = time_to_market(
            s, ReportScope(w.brand_id, False, frozenset({w.regions["North"]})), q, now=T0
        )
        assert [r.label for r in north_only.to_submission] == ["North", "All"]
        assert north_only.to_submission[-1].count == 4
        assert north_only.escalations == 0


def test_overdue_lists_open_approvals_past_due_with_their_holders(db: Engine) -> None:
    with Session(db) as s:
        w = World.build(s, "acme", {"North": 2})
        gm = w.member(s, Role.partner_manager, partner="North-1")
        w.member(s, Role.partner_manager, partner="North-2")  # another partner's GM
        rm = w.member(s, Role.region_manager, region="North")
        c = w.campaign(s, "Spring")
        late = w.invite(s, c, "North-1")
        w.move(s, late, "submit", PC.pending_approval, T0)
        due = w.invite(s, c, "North-2")
        for row, at in ((late, T0 + timedelta(hours=2)), (due, T0 + timedelta(days=3))):
            s.add(
                ApprovalTask(
                    partner_campaign_id=row.id or 0,
                    campaign_id=c,
                    brand_id=w.brand_id,
                    region_id=row.region_id,
                    partner_id=row.partner_id,
                    kind=TaskKind.approve,
                    due_at=at,
                    stage="gm",
                    stage_label="Club GM then region",
                    approvers=[{"role": "partner_gm"}, {"role": "region_manager"}],
                    escalation_level=1,
                )
            )
        s.commit()
        scope = ReportScope(w.brand_id, whole_brand=True)
        report = time_to_market(s, scope, ReportQuery(), now=T0 + timedelta(days=1))
        assert len(report.overdue) == 1
        item = report.overdue[0]
        assert item.partner_name == "North-1" and item.campaign_name == "Spring"
        assert item.stage_label == "Club GM then region" and item.escalation_level == 1
        assert item.overdue_seconds == 22 * H
        assert item.holders == [gm.full_name, rm.full_name]
        other = ReportScope(w.brand_id + 1000, whole_brand=True)
        assert time_to_market(s, other, ReportQuery(), now=T0 + timedelta(days=9)).overdue == []
