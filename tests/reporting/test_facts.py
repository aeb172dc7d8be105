"""Reporting facts are written by the projections people already rely on: every audit event of a
partner campaign has its transition fact (same key), the waits it ends become cycle times, and a
refused save keeps the rule that refused it while still refusing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from approvals.policy import Approver, ApproverRole, Stage
from models.reporting import ContentRefusal, CycleTime, TransitionFact
from tests.approvals.test_chain_workflow import decide, launch, make_policy
from tests.campaigns.test_campaign_workflows import (
    EDITOR_AMS,
    GM_AMS,
    NORTH,
    act,
    audit_events,
    finish,
    server_clock,  # noqa: F401 - the autouse fixture: campaign windows follow the server's clock
    submit_content,
    values,
)

Login = Callable[[str], dict[str, str]]


def facts_of(engine: Engine, pcid: int) -> list[TransitionFact]:
    with Session(engine) as s:
        return list(
            s.exec(
                select(TransitionFact)
                .where(TransitionFact.partner_campaign_id == pcid)
                .order_by(col(TransitionFact.seq))
            ).all()
        )


def cycles_of(engine: Engine, pcid: int) -> list[CycleTime]:
    with Session(engine) as s:
        return list(
            s.exec(
                select(CycleTime)
                .where(CycleTime.partner_campaign_id == pcid)
                .order_by(col(CycleTime.ended_at), col(CycleTime.id))
            ).all()
        )


def utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def test_a_two_stage_approval_writes_its_facts_and_cycle_times(
    app_with_worker: httpx.AsyncClient, login: Login, demo: Engine
) -> None:
    api = app_with_worker
    policy = make_policy(
        demo,
        "GM then region",
        Stage(name="gm", label="GM", approvers=[Approver(role=ApproverRole.partner_gm)]),
        Stage(
            name="region",
            label="Region",
            approvers=[Approver(role=ApproverRole.region_manager)],
        ),
    )
    cid, ams = await launch(api, login, demo, policy)
    try:
        await submit_content(api, login, EDITOR_AMS, ams)
        assert (await decide(api, login, GM_AMS, ams)).status_code == 200
        assert (await decide(api, login, NORTH, ams)).json()["state"] == "approved"
    finally:
        await finish(api, login, demo, cid)

    trail = [e for e in audit_events(demo, ams) if e.action.startswith("partner_campaign.")]
    facts = facts_of(demo, ams)
    assert [f.key for f in facts] == [e.event_key for e in trail]
    assert [f.event for f in facts][:5] == ["open", "save", "submit", "advance", "approve"]
    submit, advance, approve = facts[2], facts[3], facts[4]
    assert (submit.next_stage, advance.stage, advance.next_stage, approve.stage) == (
        "gm",
        "gm",
        "region",
        "region",
    )
    assert all(f.campaign_id == cid and f.brand_id == trail[0].brand_id for f in facts)

    cycles = {(c.kind, c.stage): c for c in cycles_of(demo, ams)}
    assert set(cycles) == {
        ("to_submission", None),
        ("stage", "gm"),
        ("stage", "region"),
        ("to_approval", None),
    }
    gm, region = cycles[("stage", "gm")], cycles[("stage", "region")]
    assert (utc(gm.started_at), utc(gm.ended_at)) == (utc(submit.at), utc(advance.at))
    assert (utc(region.started_at), utc(region.ended_at)) == (utc(advance.at), utc(approve.at))
    whole = cycles[("to_approval", None)]
    assert whole.outcome == "approve"
    assert abs(whole.seconds - (gm.seconds + region.seconds)) <= 1  # whole seconds, rounded down
    assert utc(cycles[("to_submission", None)].started_at) == utc(facts[0].at)


async def test_a_refused_save_is_kept_as_the_rule_that_refused_it(
    app_with_worker: httpx.AsyncClient, login: Login, demo: Engine
) -> None:
    api = app_with_worker
    cid, ams = await launch(
        api,
        login,
        demo,
        make_policy(
            demo,
            "GM only",
            Stage(name="gm", label="GM", approvers=[Approver(role=ApproverRole.partner_gm)]),
        ),
    )
    try:
        bad = {**values(), "headline": "The cheapest open day, guaranteed"}
        refused = await act(api, login, EDITOR_AMS, ams, "content", values=bad)
        assert refused.status_code == 422, refused.text
        assert "headline" in refused.text
        long = {**values(), "headline": "x" * 500}
        assert (await act(api, login, EDITOR_AMS, ams, "content", values=long)).status_code == 422
    finally:
        await finish(api, login, demo, cid)
    with Session(demo) as s:
        rows = s.exec(select(ContentRefusal).where(ContentRefusal.partner_campaign_id == ams)).all()
    assert {(r.field, r.action) for r in rows} == {("headline", "save")}
    # "cheapest" and "guaranteed" are two restricted words; then one length rule.
    assert sorted(r.rule for r in rows) == ["restricted_word", "restricted_word", "too_long"]
    assert all(r.campaign_id == cid and r.actor_id is not None for r in rows)
    # Nothing was saved: the partner campaign was opened, then cancelled with its campaign.
    assert [f.event for f in facts_of(demo, ams)] == ["open", "cancel"]
