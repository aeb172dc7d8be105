"""The backfill rebuilds, from the audit trail the real projections wrote, exactly the facts and
cycle times those projections wrote; a second run writes nothing; the days are rolled up."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from approvals.policy import Stage
from core.settings import Settings
from models.reporting import CycleTime, ReportDaily, RollupWatermark, TransitionFact
from services.reporting.backfill import backfill, fact_from_audit, parse_key
from tests.approvals.test_chain_workflow import (
    GM,
    REVIEWER,
    REVIEWER2,
    REVIEWERS,
    decide,
    launch,
    make_policy,
)
from tests.campaigns.test_campaign_workflows import (
    EDITOR_AMS,
    finish,
    server_clock,  # noqa: F401 - the autouse fixture: campaign windows follow the server's clock
    submit_content,
)
from tests.reporting.test_rollup import brand_id, metric_total, stored

Login = Callable[[str], dict[str, str]]
FACT_FIELDS = [c for c in TransitionFact.model_fields if c != "id"]
CYCLE_FIELDS = [c for c in CycleTime.model_fields if c != "id"]


def facts(engine: Engine) -> dict[str, tuple[Any, ...]]:
    with Session(engine) as s:
        return {
            f.key: tuple(_plain(getattr(f, n)) for n in FACT_FIELDS)
            for f in s.exec(select(TransitionFact))
        }


def cycles(engine: Engine) -> dict[str, tuple[Any, ...]]:
    with Session(engine) as s:
        return {
            c.key: tuple(_plain(getattr(c, n)) for n in CYCLE_FIELDS)
            for c in s.exec(select(CycleTime))
        }


def _plain(value: Any) -> Any:
    """Times compared as UTC instants (SQLite hands them back without a zone)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return value


async def run_a_chain(api: httpx.AsyncClient, login: Login, demo: Engine) -> None:
    """Two stages, changes requested from the second, resubmitted, approved through both; the
    other partners are cancelled with the campaign."""
    policy = make_policy(
        demo,
        "GM then brand",
        Stage(name="gm", approvers=[GM, REVIEWERS]),
        Stage(name="brand", approvers=[REVIEWERS]),
        distinct_deciders=True,
    )
    cid, ams = await launch(api, login, demo, policy)
    try:
        await submit_content(api, login, EDITOR_AMS, ams)
        assert (await decide(api, login, REVIEWER, ams)).status_code == 200
        back = await decide(api, login, REVIEWER2, ams, "request_changes")
        assert back.json()["state"] == "changes_requested"
        await submit_content(api, login, EDITOR_AMS, ams)
        assert (await decide(api, login, REVIEWER, ams)).status_code == 200
        done = await decide(api, login, REVIEWER2, ams)
        assert done.json()["state"] == "approved", done.text
    finally:
        await finish(api, login, demo, cid)


async def test_facts_rebuilt_from_the_audit_trail_equal_the_projected_ones(
    app_with_worker: httpx.AsyncClient, login: Login, demo: Engine
) -> None:
    await run_a_chain(app_with_worker, login, demo)
    projected, projected_cycles = facts(demo), cycles(demo)
    events = {v[FACT_FIELDS.index("event")] for v in projected.values()}
    assert {"open", "submit", "advance", "request_changes", "approve", "cancel"} <= events
    kinds = {v[CYCLE_FIELDS.index("kind")] for v in projected_cycles.values()}
    assert kinds == {"to_submission", "to_approval", "stage"}

    with Session(demo) as s:
        s.exec(delete(CycleTime))
        s.exec(delete(TransitionFact))
        s.commit()
    north = brand_id(demo, "northwind")
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    report = backfill(demo, today=tomorrow)
    assert report.facts.facts == len(projected) and report.facts.already_present == 0
    assert report.facts.cycle_times == len(projected_cycles) and not report.facts.unreadable
    assert facts(demo) == projected
    assert cycles(demo) == projected_cycles
    # Every brand re-closed up to today: today's transitions are now aggregates.
    assert {r.brand_id for r in report.rollups} == {north, brand_id(demo, "contoso")}
    assert metric_total(demo, north, "event.submit") == 2
    assert metric_total(demo, north, "event.request_changes") == 1

    rows = stored(demo, north)
    again = backfill(demo, north, today=tomorrow)
    assert (again.facts.facts, again.facts.cycle_times) == (0, 0)
    assert again.facts.already_present == len(projected)
    assert stored(demo, north) == rows


async def test_a_partly_projected_timeline_gets_its_earlier_facts_and_missing_cycle_times(
    app_with_worker: httpx.AsyncClient, login: Login, demo: Engine
) -> None:
    """A partner campaign that started before the facts existed and finished after: only its
    earlier transitions lack facts, and the cycle times its later ones could not measure then
    are written too."""
    await run_a_chain(app_with_worker, login, demo)
    projected, projected_cycles = facts(demo), cycles(demo)
    first_submit = min(
        (v[FACT_FIELDS.index("at")], k)
        for k, v in projected.items()
        if v[FACT_FIELDS.index("event")] == "submit"
    )[0]
    with Session(demo) as s:
        s.exec(delete(TransitionFact).where(col(TransitionFact.at) <= first_submit))
        s.exec(delete(CycleTime).where(col(CycleTime.kind) != "to_submission"))
        s.commit()
    report = backfill(demo, today=datetime.now(UTC).date())
    assert report.facts.facts > 0 and report.facts.already_present > 0
    assert facts(demo) == projected
    assert cycles(demo) == projected_cycles


def test_key_and_audit_reading(db: Engine) -> None:
    assert parse_key("partner-campaign-7-3:12:approve") == ("partner-campaign-7-3", 12, "approve")
    assert parse_key("a:b:c:4:vote") == ("a:b:c", 4, "vote")
    assert parse_key("no-seq:x:open") is None
    assert parse_key("plain") is None
    from models.audit import AuditEvent
    from models.campaigns import PartnerCampaign

    row = PartnerCampaign(
        id=5, campaign_id=2, brand_id=1, region_id=3, partner_id=4, workflow_id="wf"
    )
    at = datetime(2026, 1, 2, 3, tzinfo=UTC)

    def event(action: str, before: str, after: dict[str, Any], actor: str = "9") -> AuditEvent:
        return AuditEvent(
            brand_id=1,
            seq=1,
            event_key=f"wf:{len(action)}:{action.split('.')[1]}",
            actor=actor,
            action=action,
            entity_type="partner_campaign",
            entity_id="5",
            before={"state": before},
            after=after,
            at=at,
            prev_hash="",
            hash="",
        )

    submit = fact_from_audit(
        event("partner_campaign.submit", "drafting", {"state": "pending_approval", "stage": "gm"}),
        row,
        1,
    )
    assert (submit.stage, submit.next_stage, submit.actor_id) == ("gm", "gm", 9)
    advance = fact_from_audit(
        event(
            "partner_campaign.advance",
            "pending_approval",
            {"state": "pending_approval", "stage": "gm", "next_stage": "brand"},
        ),
        row,
        1,
    )
    assert (advance.stage, advance.next_stage) == ("gm", "brand")
    final = fact_from_audit(
        event(
            "partner_campaign.approve",
            "pending_approval",
            {"state": "approved", "stage": "brand", "on_behalf_of": 12},
            actor="system",
        ),
        row,
        1,
    )
    assert (final.stage, final.next_stage, final.actor_id, final.on_behalf_of) == (
        "brand",
        None,
        None,
        12,
    )
    assert (final.region_id, final.partner_id, final.campaign_id) == (3, 4, 2)


def test_the_command_prints_what_it_wrote(db: Engine, settings: Settings, monkeypatch: Any) -> None:
    from models.org import Brand

    with Session(db) as s:
        s.add(Brand(slug="quiet", name="Quiet"))
        s.commit()
    env = {"DATABASE_URL": settings.resolved_database_url, "APP_ENV": "test", "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-m", "scripts.reports_backfill"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "facts: 0 written, 0 already present" in done.stdout
    assert "nothing to close" in done.stdout
    with Session(db) as s:
        assert len(s.exec(select(RollupWatermark)).all()) == 1
        assert s.exec(select(ReportDaily)).first() is None
