"""Approval chains run durably by the partner campaign workflow, on the time-skipping server
with real activities and database, through the HTTP API: rules any / all / quorum, conditions
that skip or add stages, every timeout action, delegation, a rejection in a stage of several,
changes requested from the second stage, a policy edited while a campaign runs, structured
refusals. New saved histories cover these paths (--record-histories)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from approvals.policy import (
    Approver,
    ApproverRole,
    Condition,
    Fact,
    Operator,
    PolicySpec,
    Rule,
    Stage,
    Timeout,
    TimeoutAction,
)
from core.policy import actor_of
from core.settings import Settings
from models.approvals import Delegation
from models.campaigns import PartnerCampaign
from models.org import User
from models.workflow_io import PartnerAction
from scripts.demo.approvals import seed_demo_approvals
from scripts.demo.organisation import DEMO_PASSWORD
from services.accounts import principal_for
from services.action_links import read_token
from services.approvals import delegations
from services.approvals import policies as approval_policies
from services.org import Actor
from services.workflow_updates import problem_from
from tests.campaigns.test_campaign_workflows import (
    EDITOR_AMS,
    GM_AMS,
    GM_BERLIN,
    NORTH,
    act,
    audit_events,
    finish,
    launched,
    partner_campaign,
    server_clock,  # noqa: F401 - the autouse fixture: campaign windows follow the server's clock
    submit_content,
    until,
    values,
)
from tests.campaigns.test_notifications import _decision_links
from tests.delivery.test_delivery import add_contacts, make_segment
from tests.portal.test_portal import token_of
from workflows.partner_campaign import PartnerCampaignWorkflow

Login = Callable[[str], dict[str, str]]
Record = Callable[[str, str], Awaitable[None]]
ADMIN = "admin@northwind.example"
REVIEWER = "brand@northwind.example"
REVIEWER2 = "brand2@northwind.example"
OPS = "ops@northwind.example"
GM = Approver(role=ApproverRole.partner_gm)
REGION = Approver(role=ApproverRole.region_manager)
REVIEWERS = Approver(role=ApproverRole.brand_reviewer)


def user(engine: Engine, email: str) -> User:
    with Session(engine) as s:
        found = s.exec(select(User).where(User.email == email)).one()
        s.expunge(found)
        return found


def make_policy(engine: Engine, name: str, *stages: Stage, **spec: Any) -> int:
    with Session(engine) as s:
        admin = principal_for(s, user(engine, ADMIN))
        view = approval_policies.create(
            s, Actor(admin, "test"), name, "", PolicySpec(stages=list(stages), **spec)
        )
        s.commit()
        return view.policy.id or 0


def new_version(engine: Engine, policy_id: int, *stages: Stage) -> None:
    with Session(engine) as s:
        admin = principal_for(s, user(engine, ADMIN))
        view = approval_policies.load(s, admin, policy_id)
        approval_policies.new_version(
            s, Actor(admin, "test"), view, PolicySpec(stages=list(stages))
        )
        s.commit()


async def launch(
    api: httpx.AsyncClient, login: Login, demo: Engine, policy_id: int
) -> tuple[int, int]:
    with Session(demo) as s:
        name = s.exec(
            select(approval_policies.ApprovalPolicy.name).where(
                approval_policies.ApprovalPolicy.id == policy_id
            )
        ).one()
    return await launched(api, login, demo, approval_policy=name, approval_policy_id=policy_id)


def stage_of(engine: Engine, pcid: int) -> tuple[str, str | None]:
    with Session(engine) as s:
        row = s.get(PartnerCampaign, pcid)
        assert row is not None
        return row.state, row.approval_stage


def audit_after(engine: Engine, pcid: int) -> list[dict[str, Any]]:
    return [
        {"action": e.action, "actor": e.actor, **(e.after or {})}
        for e in audit_events(engine, pcid)
    ]


async def decide(
    api: httpx.AsyncClient,
    login: Login,
    who: str,
    pcid: int,
    decision: str = "approve",
    **body: Any,
) -> httpx.Response:
    comment = {"comment": "see notes"} if decision != "approve" else {}
    return await act(api, login, who, pcid, "decision", decision=decision, **comment, **body)


async def test_quorum_conditions_delegation_and_the_audit(
    app_with_worker: httpx.AsyncClient, login: Login, demo: Engine, record_history: Record
) -> None:
    """Northwind's Standard policy: the GM, the region manager above 50 recipients, then brand
    review (any one of two reviewers) for offers; brand@ is on holiday, ops@ stands in."""
    api = app_with_worker
    with Session(demo) as s:
        seed_demo_approvals(s)
        s.commit()
    add_contacts(demo, "amsterdam", 60, tag="everyone")
    small = make_segment(demo, "berlin", "few")
    add_contacts(demo, "berlin", 5, tag="few")
    with Session(demo) as s:
        standard = s.exec(
            select(approval_policies.ApprovalPolicy.id).where(
                approval_policies.ApprovalPolicy.name == "Standard"
            )
        ).one()
    cid, ams = await launch(api, login, demo, standard or 0)
    ber = partner_campaign(demo, cid, "berlin").id or 0
    try:
        await submit_content(api, login, EDITOR_AMS, ams)
        assert stage_of(demo, ams) == ("pending_approval", "gm")
        assert (await decide(api, login, GM_AMS, ams)).json()["approval"]["name"] == "region"
        assert (await decide(api, login, NORTH, ams)).json()["approval"]["name"] == ("brand_review")
        tasks = (await api.get("/api/v1/tasks", headers=login(OPS))).json()["items"]
        [task] = [t for t in tasks if t["partner_campaign_id"] == ams]
        assert task["on_behalf_of"] == user(demo, REVIEWER).id  # the stand-in sees it
        done = await decide(api, login, OPS, ams)
        assert done.json()["state"] == "approved", done.text

        saved = await act(
            api, login, "editor.berlin@northwind.example", ber, "content", values=values()
        )
        assert saved.status_code == 200, saved.text
        submitted = await act(
            api, login, "editor.berlin@northwind.example", ber, "submit", segment_id=small
        )
        assert submitted.status_code == 200, submitted.text
        assert (await decide(api, login, GM_BERLIN, ber)).json()["approval"]["name"] == (
            "brand_review"  # five recipients: no region stage
        )
        assert (await decide(api, login, REVIEWER2, ber)).json()["state"] == "approved"
    finally:
        await finish(api, login, demo, cid)
    trail = audit_after(demo, ams)
    decided = [(e["action"], e.get("stage"), e.get("on_behalf_of")) for e in trail]
    assert ("partner_campaign.advance", "gm", None) in decided
    assert ("partner_campaign.advance", "region", None) in decided
    assert ("partner_campaign.approve", "brand_review", user(demo, REVIEWER).id) in decided
    skipped = [e for e in audit_after(demo, ber) if e["action"] == "partner_campaign.advance"]
    assert [e.get("next_stage") for e in skipped] == ["brand_review"]
    await record_history(partner_campaign(demo, cid, "amsterdam").workflow_id, "chain_standard")


async def test_all_and_quorum_and_a_reject_in_a_stage_of_several(
    app_with_worker: httpx.AsyncClient, login: Login, demo: Engine, record_history: Record
) -> None:
    api = app_with_worker
    policy = make_policy(
        demo,
        "Both reviewers",
        Stage(name="legal", approvers=[REVIEWERS], rule=Rule.all),
    )
    cid, ams = await launch(api, login, demo, policy)
    ber = partner_campaign(demo, cid, "berlin").id or 0
    try:
        await submit_content(api, login, EDITOR_AMS, ams)
        first = await decide(api, login, REVIEWER, ams)
        assert first.json()["state"] == "pending_approval"
        assert first.json()["approval"]["approvals"] == 1
        assert first.json()["approval"]["required"] == 2
        again = await decide(api, login, REVIEWER, ams)
        assert again.status_code == 403 and "already" in again.text
        assert (await decide(api, login, REVIEWER2, ams)).json()["state"] == "approved"

        await submit_content(api, login, "editor.berlin@northwind.example", ber)
        assert (await decide(api, login, REVIEWER, ber)).json()["state"] == "pending_approval"
        rejected = await decide(api, login, REVIEWER2, ber, "reject")
        assert rejected.json()["state"] == "rejected", rejected.text
    finally:
        await finish(api, login, demo, cid)
    await record_history(partner_campaign(demo, cid, "berlin").workflow_id, "chain_all_rejected")


async def test_changes_from_the_second_stage_restart_the_chain_and_distinct_people(
    app_with_worker: httpx.AsyncClient, login: Login, demo: Engine
) -> None:
    api = app_with_worker
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
        assert (await decide(api, login, REVIEWER, ams)).json()["approval"]["name"] == "brand"
        twice = await decide(api, login, REVIEWER, ams)
        assert twice.status_code == 403 and "different person" in twice.text
        back = await decide(api, login, REVIEWER2, ams, "request_changes")
        assert back.json()["state"] == "changes_requested"
        await submit_content(api, login, EDITOR_AMS, ams)
        assert stage_of(demo, ams) == ("pending_approval", "gm")  # from the first stage again
    finally:
        await finish(api, login, demo, cid)


@pytest.mark.parametrize(
    ("action", "state"),
    [
        (TimeoutAction.approve, "approved"),
        (TimeoutAction.reject, "rejected"),
        (TimeoutAction.expire, "expired"),
    ],
)
async def test_stage_timeouts(
    app_with_worker: httpx.AsyncClient,
    login: Login,
    demo: Engine,
    workflow_env: WorkflowEnvironment,
    action: TimeoutAction,
    state: str,
) -> None:
    api = app_with_worker
    policy = make_policy(
        demo,
        f"Timeout {action.value}",
        Stage(
            name="gm",
            approvers=[GM],
            timeouts=[
                Timeout(after=3600, action=TimeoutAction.remind),
                Timeout(after=2 * 3600, action=action),
            ],
        ),
    )
    cid, ams = await launch(api, login, demo, policy)
    try:
        await submit_content(api, login, EDITOR_AMS, ams)
        await workflow_env.sleep(timedelta(hours=2, minutes=1))
        await until(lambda: stage_of(demo, ams)[0] == state, state)
    finally:
        await finish(api, login, demo, cid)
    actions = [e["action"] for e in audit_after(demo, ams)]
    assert "partner_campaign.remind" in actions


async def test_a_policy_edited_while_a_campaign_runs_keeps_its_version(
    app_with_worker: httpx.AsyncClient, login: Login, demo: Engine
) -> None:
    api = app_with_worker
    policy = make_policy(demo, "Edited", Stage(name="gm", approvers=[GM]))
    cid, ams = await launch(api, login, demo, policy)
    new_version(
        demo, policy, Stage(name="gm", approvers=[GM]), Stage(name="hq", approvers=[REVIEWERS])
    )
    try:
        await submit_content(api, login, EDITOR_AMS, ams)
        approved = await decide(api, login, GM_AMS, ams)
        assert approved.json()["state"] == "approved"  # version 1: no brand review
        with Session(demo) as s:
            row = s.get(PartnerCampaign, ams)
            assert row is not None and row.approval_policy_version_id is not None
            version = s.get(approval_policies.ApprovalPolicyVersion, row.approval_policy_version_id)
            assert version is not None and version.number == 1
    finally:
        await finish(api, login, demo, cid)


async def test_conditions_on_slots_and_refusals_carry_every_field(
    app_with_worker: httpx.AsyncClient,
    login: Login,
    demo: Engine,
    workflow_env: WorkflowEnvironment,
) -> None:
    api = app_with_worker
    policy = make_policy(
        demo,
        "Headline check",
        Stage(
            name="legal",
            approvers=[REVIEWERS],
            when=Condition(fact=Fact.slot, slot="headline", op=Operator.eq, value="Free!"),
        ),
    )
    cid, ams = await launch(api, login, demo, policy)
    try:
        await submit_content(api, login, EDITOR_AMS, ams)
        assert stage_of(demo, ams)[0] == "approved"  # the headline is not "Free!": no stage
        row = partner_campaign(demo, cid, "berlin")
        handle = workflow_env.client.get_workflow_handle(row.workflow_id)
        editor = principal_for_email(demo, "editor.berlin@northwind.example")
        bad = PartnerAction(
            actor=actor_of(editor), values={"headline": "x" * 200, "event_date": "1999-01-01"}
        )
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await handle.execute_update(PartnerCampaignWorkflow.save_content, bad)
        problem = problem_from(caught.value, "partner campaign")
        assert problem.status == 422
        assert {e["field"] for e in problem.errors or []} >= {"headline", "event_date"}
    finally:
        await finish(api, login, demo, cid)


def principal_for_email(engine: Engine, email: str) -> Any:
    with Session(engine) as s:
        return principal_for(s, user(engine, email))


async def test_a_stand_in_decides_by_link_and_in_the_portal_until_revoked(
    app_with_worker: httpx.AsyncClient, login: Login, demo: Engine, settings: Settings
) -> None:
    """brand@ delegated to ops@ (a viewer): ops@ gets the decision emails and decides from the
    link and from the portal page, counted for brand@; once brand@ revokes, ops@ is refused."""
    api = app_with_worker
    with Session(demo) as s:
        seed_demo_approvals(s)
        s.commit()
    policy = make_policy(demo, "Brand only", Stage(name="brand", approvers=[REVIEWERS]))
    cid, ams = await launch(api, login, demo, policy)
    ber = partner_campaign(demo, cid, "berlin").id or 0
    reviewer = user(demo, REVIEWER).id
    try:
        # The outbox outlives each test (and ids are handed out again): only new links count.
        before = set(_decision_links(settings, "Open day spring", OPS))
        await submit_content(api, login, EDITOR_AMS, ams)

        def new_links() -> list[str]:
            return [u for u in _decision_links(settings, "Open day spring", OPS) if u not in before]

        await until(lambda: bool(new_links()), "ops@ notice")
        links = new_links()
        approve = next(u for u in links if read_token(settings, _token(u)).action == "approve")
        page = await api.post(f"/a/{_token(approve)}", data={"comment": "for brand@"})
        assert page.status_code == 200 and "is now approved" in page.text, page.text
        trail = audit_after(demo, ams)
        assert [e.get("on_behalf_of") for e in trail if e["action"].endswith(".approve")] == [
            reviewer
        ]

        await submit_content(api, login, "editor.berlin@northwind.example", ber)
        portal = httpx.AsyncClient(transport=api._transport, base_url="https://test")
        async with portal:
            await _portal_sign_in(portal, OPS)
            form = await portal.get(f"/partner-campaigns/{ber}")
            assert form.status_code == 200 and "Approve" in form.text
            with Session(demo) as s:
                [held] = s.exec(
                    select(Delegation).where(Delegation.delegate_id == user(demo, OPS).id)
                ).all()
                renewed = Delegation(
                    brand_id=held.brand_id,
                    user_id=held.user_id,
                    delegate_id=held.delegate_id,
                    starts_at=held.starts_at,
                    ends_at=held.ends_at,
                )
                delegations.revoke(
                    s, Actor(principal_for(s, user(demo, REVIEWER)), "revoke"), held.id or 0
                )
                s.commit()
            refused = await portal.post(
                f"/partner-campaigns/{ber}/decision",
                data={"decision": "approve", "csrf_token": token_of(form.text)},
            )
            assert refused.status_code == 403, refused.text
            assert stage_of(demo, ber)[0] == "pending_approval"
            with Session(demo) as s:
                s.add(renewed)
                s.commit()
            done = await portal.post(
                f"/partner-campaigns/{ber}/decision",
                data={"decision": "approve", "csrf_token": token_of(form.text)},
            )
            assert done.status_code == 303, done.text
        assert stage_of(demo, ber)[0] == "approved"
    finally:
        await finish(api, login, demo, cid)


def _token(link: str) -> str:
    return link.rsplit("/a/", 1)[1]


async def _portal_sign_in(portal: httpx.AsyncClient, email: str) -> None:
    page = await portal.get("/login")
    resp = await portal.post(
        "/login",
        data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token_of(page.text)},
    )
    assert resp.status_code == 303, resp.text


async def test_a_stage_nobody_can_decide_says_so_in_the_api_and_the_audit(
    app_with_worker: httpx.AsyncClient, login: Login, demo: Engine
) -> None:
    """Amsterdam's GM edits and submits: four eyes leaves no GM to decide. The chain waits
    for its timeouts (here none) or the deadline; HQ sees why instead of a silent expiry."""
    api = app_with_worker
    policy = make_policy(demo, "GM alone", Stage(name="gm", approvers=[GM]))
    cid, ams = await launch(api, login, demo, policy)
    try:
        await submit_content(api, login, GM_AMS, ams)
        read = await api.get(f"/api/v1/partner-campaigns/{ams}", headers=login(ADMIN))
        blocked = read.json()["approval"]["blocked"]
        assert "Nobody can decide" in blocked and "submitted it" in blocked
        submitted = [e for e in audit_after(demo, ams) if e["action"] == "partner_campaign.submit"]
        assert submitted[-1]["blocked"] == blocked
        refused = await decide(api, login, GM_AMS, ams)
        assert refused.status_code == 403 and "Four eyes" in refused.text
        async with httpx.AsyncClient(transport=api._transport, base_url="https://test") as portal:
            await _portal_sign_in(portal, ADMIN)
            page = await portal.get(f"/partner-campaigns/{ams}")
            assert 'id="stage-blocked"' in page.text and "Nobody can decide" in page.text
    finally:
        await finish(api, login, demo, cid)
