"""A partner campaign whose send finished starts its claim (behind the `claim-after-send`
patch): with its spend booked against a fund, a drafted claim waits for the GM; without co-op
money, no claim, and the audit trail says why."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from models.audit import AuditEvent
from models.claims import Claim
from tests.claims.conftest import book_spend, make_fund
from tests.delivery.test_delivery import add_contacts, make_segment

Login = Callable[[str], dict[str, str]]
EDITOR_AMS = "editor.amsterdam@northwind.example"
GM_AMS = "gm.amsterdam@northwind.example"


async def send_campaign(
    api: httpx.AsyncClient,
    login: Login,
    demo: Engine,
    env: WorkflowEnvironment,
    before_send: Callable[[int], None],
) -> int:
    """Amsterdam's campaign to 3 contacts, sent; `before_send(pcid)` runs once scheduled."""
    from tests.campaigns.test_campaign_workflows import CLOCK, ENV, act, launched, values

    ENV[:] = [env]
    CLOCK[:] = [max(await env.get_current_time(), datetime.now(UTC))]
    add_contacts(demo, "amsterdam", 3, tag="claim")
    segment_id = make_segment(demo, "amsterdam", "claim")
    _, pcid = await launched(api, login, demo)
    assert (await act(api, login, EDITOR_AMS, pcid, "content", values=values())).status_code == 200
    submitted = await act(api, login, EDITOR_AMS, pcid, "submit", segment_id=segment_id)
    assert submitted.status_code == 200, submitted.text
    approved = await act(api, login, GM_AMS, pcid, "decision", decision="approve")
    assert approved.status_code == 200, approved.text
    send_at = (await env.get_current_time() + timedelta(days=1)).isoformat()
    scheduled = await act(api, login, EDITOR_AMS, pcid, "schedule", send_at=send_at)
    assert scheduled.json()["state"] == "scheduled", scheduled.text
    before_send(pcid)
    await env.sleep(timedelta(days=1, minutes=1))
    return pcid


async def eventually(check: Callable[[], object]) -> object:
    for _ in range(300):
        found = check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("never happened")


async def test_a_sent_campaign_with_booked_spend_gets_a_drafted_claim(
    app_with_worker: httpx.AsyncClient,
    login: Login,
    demo: Engine,
    workflow_env: WorkflowEnvironment,
) -> None:
    fund_id = make_fund(demo)

    def booked(pcid: int) -> None:  # what the send's booking does when it finishes
        book_spend(demo, fund_id, pcid, "email", 3, 15)

    pcid = await send_campaign(app_with_worker, login, demo, workflow_env, booked)

    def drafted() -> Claim | None:
        with Session(demo) as s:
            claim = s.exec(select(Claim).where(Claim.partner_campaign_id == pcid)).first()
            return claim if claim is not None and claim.lines else None

    claim = await eventually(drafted)
    assert isinstance(claim, Claim)
    assert (claim.state, claim.spend_minor, claim.claimed_minor) == ("draft", 15, 8)
    assert claim.lines[0]["cross_check"] == "ok"  # 3 booked, 3 sent
    mine = await app_with_worker.get(f"/api/v1/claims/{claim.id}", headers=login(GM_AMS))
    assert mine.status_code == 200 and mine.json()["evidence"][0]["kind"] == "email"


async def test_a_sent_campaign_without_co_op_money_gets_no_claim(
    app_with_worker: httpx.AsyncClient,
    login: Login,
    demo: Engine,
    workflow_env: WorkflowEnvironment,
) -> None:
    pcid = await send_campaign(app_with_worker, login, demo, workflow_env, lambda pcid: None)

    def why() -> str | None:
        with Session(demo) as s:
            event = s.exec(
                select(AuditEvent).where(
                    AuditEvent.action == "claim.not_drafted",
                    AuditEvent.entity_id == str(pcid),
                )
            ).first()
            return event.comment if event is not None else None

    assert await eventually(why) == "no co-op fund covers its spend, or none of it is eligible"
    with Session(demo) as s:
        assert s.exec(select(Claim)).all() == []
