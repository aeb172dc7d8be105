"""Campaigns through the HTTP API and the workflows (real activities, real database, the
time-skipping server unless --workflow-env=local): launch, personalise, approve, the loops and
side exits, timers (reminder, escalation, expiry), cancel, opt_out and window extension."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from models.audit import AuditEvent
from models.campaigns import ApprovalTask, Campaign, PartnerCampaign
from models.org import Partner, Region, User
from models.templates import Template, TemplateVersion
from models.workflow_io import CampaignWorkflowInput

HISTORIES = Path(__file__).parents[1] / "histories"
MARKETING = "marketing@northwind.example"
REVIEWER = "brand@northwind.example"
EDITOR_AMS = "editor.amsterdam@northwind.example"
GM_AMS = "gm.amsterdam@northwind.example"
GM_BERLIN = "gm.berlin@northwind.example"
NORTH = "north@northwind.example"
CLOCK: list[datetime] = []  # the workflow server's time at the start of the running test
ENV: list[WorkflowEnvironment] = []


@pytest.fixture(autouse=True)
async def server_clock(workflow_env: WorkflowEnvironment) -> None:
    """Campaign windows are set from the workflow server's clock, not from the wall clock:
    the time-skipping server's runs ahead once a test has skipped time."""
    CLOCK[:] = [max(await workflow_env.get_current_time(), datetime.now(UTC))]
    ENV[:] = [workflow_env]


def values() -> dict[str, str]:
    return {
        "headline": "Open day in Amsterdam",
        "event_date": (CLOCK[0] + timedelta(days=8)).date().isoformat(),  # inside the window
    }


Login = Callable[[str], dict[str, str]]
Record = Callable[[str, str], Awaitable[None]]


def make_campaign(engine: Engine, **overrides: Any) -> int:
    """A draft campaign of the published "Open day" template for region North."""
    now = CLOCK[0]
    with Session(engine) as s:
        template = s.exec(select(Template).where(Template.name == "Open day")).one()
        version = s.exec(
            select(TemplateVersion).where(TemplateVersion.template_id == template.id)
        ).one()
        north = s.exec(select(Region).where(Region.name == "North")).one()
        author = s.exec(select(User).where(User.email == MARKETING)).one()
        fields: dict[str, Any] = {
            "brand_id": template.brand_id,
            "name": "Open day spring",
            "template_version_id": version.id,
            "target": {"regions": [north.id]},
            "personalise_until": now + timedelta(days=3),
            "send_by": now + timedelta(days=10),
            "remind_after": 86400,
            "escalate_after": 2 * 86400,
            "created_by": author.id,
        }
        fields.update(overrides)
        campaign = Campaign(**fields)
        s.add(campaign)
        s.commit()
        assert campaign.id is not None
        return campaign.id


def partner_campaign(engine: Engine, campaign_id: int, slug: str) -> PartnerCampaign:
    with Session(engine) as s:
        row = s.exec(
            select(PartnerCampaign)
            .join(Partner, col(Partner.id) == col(PartnerCampaign.partner_id))
            .where(PartnerCampaign.campaign_id == campaign_id, Partner.slug == slug)
        ).one()
        s.expunge(row)
        return row


async def until(
    check: Callable[[], bool], what: str, seconds: float = 15, show: Callable[[], object] = str
) -> None:
    for _ in range(int(seconds * 20)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: {show()}")


def states(engine: Engine, campaign_id: int) -> dict[str, str]:
    with Session(engine) as s:
        rows = s.exec(
            select(Partner.slug, PartnerCampaign.state)
            .join(Partner, col(Partner.id) == col(PartnerCampaign.partner_id))
            .where(PartnerCampaign.campaign_id == campaign_id)
        ).all()
    return dict(rows)


async def launched(
    api: httpx.AsyncClient, login: Login, demo: Engine, **overrides: Any
) -> tuple[int, int]:
    """Launch and wait until every partner is personalising; (campaign id, Amsterdam's id)."""
    cid = make_campaign(demo, **overrides)
    resp = await api.post(f"/api/v1/campaigns/{cid}/launch", headers=login(MARKETING))
    assert resp.status_code == 200, resp.text
    assert resp.json()["state"] == "running"
    await until(
        lambda: set(states(demo, cid).values()) == {"drafting"},
        "every partner drafting",
        show=lambda: states(demo, cid),
    )
    assert states(demo, cid), "no partner campaigns"
    return cid, partner_campaign(demo, cid, "amsterdam").id or 0


async def act(
    api: httpx.AsyncClient, login: Login, who: str, pcid: int, action: str, **body: Any
) -> httpx.Response:
    url = f"/api/v1/partner-campaigns/{pcid}/{action}"
    if action == "content":
        return await api.put(url, json=body, headers=login(who))
    return await api.post(url, json=body or None, headers=login(who))


async def submit_content(api: httpx.AsyncClient, login: Login, who: str, pcid: int) -> None:
    saved = await act(api, login, who, pcid, "content", values=values())
    assert saved.status_code == 200, saved.text
    assert saved.json()["state"] == "drafting" and saved.json()["values"] == values()
    submitted = await act(api, login, who, pcid, "submit")
    assert submitted.status_code == 200, submitted.text


def open_tasks(engine: Engine, pcid: int) -> set[str]:
    with Session(engine) as s:
        return set(
            s.exec(
                select(ApprovalTask.kind).where(
                    ApprovalTask.partner_campaign_id == pcid, col(ApprovalTask.open)
                )
            ).all()
        )


def audit_events(engine: Engine, pcid: int) -> list[AuditEvent]:
    with Session(engine) as s:
        return list(
            s.exec(
                select(AuditEvent)
                .where(AuditEvent.entity_type == "partner_campaign")
                .where(AuditEvent.entity_id == str(pcid))
                .order_by(col(AuditEvent.seq))
            ).all()
        )


def audit_actions(engine: Engine, pcid: int) -> list[tuple[str, str]]:
    return [(e.action, e.actor) for e in audit_events(engine, pcid)]


def user_id(engine: Engine, email: str) -> str:
    with Session(engine) as s:
        return str(s.exec(select(User.id).where(User.email == email)).one())


async def test_happy_path_opt_in_gm(
    app_with_worker: httpx.AsyncClient, login: Login, demo: Engine, record_history: Record
) -> None:
    api = app_with_worker
    cid, pcid = await launched(api, login, demo)
    assert set(states(demo, cid)) == {"amsterdam", "berlin", "hamburg"}
    assert open_tasks(demo, pcid) == {"personalise"}

    bad = await act(api, login, EDITOR_AMS, pcid, "content", values={"headline": "x" * 90})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} >= {"headline", "event_date"}

    await submit_content(api, login, EDITOR_AMS, pcid)
    waiting = partner_campaign(demo, cid, "amsterdam")
    assert (waiting.state, waiting.approval_stage) == ("pending_approval", "gm")
    assert open_tasks(demo, pcid) == {"approve"}

    # The editor may not approve; another partner's GM does not even see it.
    refused = await act(api, login, EDITOR_AMS, pcid, "decision", decision="approve")
    assert refused.status_code == 403
    hidden = await act(api, login, GM_BERLIN, pcid, "decision", decision="approve")
    assert hidden.status_code == 404
    seen = await api.get(f"/api/v1/partner-campaigns/{pcid}", headers=login(GM_BERLIN))
    assert seen.status_code == 404

    approved = await act(api, login, GM_AMS, pcid, "decision", decision="approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    assert open_tasks(demo, pcid) == {"schedule"}  # services.scheduling

    send_at = (CLOCK[0] + timedelta(days=5)).isoformat()
    scheduled = await act(api, login, EDITOR_AMS, pcid, "schedule", send_at=send_at)
    assert scheduled.json()["state"] == "scheduled", scheduled.text

    timeline = (
        await api.get(f"/api/v1/partner-campaigns/{pcid}/timeline", headers=login(GM_AMS))
    ).json()
    assert [e["event"] for e in timeline["timeline"]] == [
        "open",
        "save",
        "submit",
        "approve",
        "schedule",
    ]
    assert "stateDiagram-v2" in timeline["diagram"]
    actions = audit_actions(demo, pcid)
    assert ("partner_campaign.submit", user_id(demo, EDITOR_AMS)) in actions
    assert ("partner_campaign.approve", user_id(demo, GM_AMS)) in actions

    # HQ cancels: the others stop, the campaign completes with its summary.
    listed = await api.get("/api/v1/campaigns/" + str(cid), headers=login(MARKETING))
    assert listed.json()["counts"] == {"drafting": 2, "scheduled": 1}
    await finish(api, login, demo, cid)
    assert set(states(demo, cid).values()) == {"cancelled"}
    assert _summary(demo, cid) == {"cancelled": 3}
    with Session(demo) as s:
        campaign = s.get(Campaign, cid)
        assert campaign is not None and campaign.state == "cancelled"
    await record_history(partner_campaign(demo, cid, "amsterdam").workflow_id, "partner_happy")
    await record_history(f"campaign-{cid}", "campaign_cancel")


async def finish(api: httpx.AsyncClient, login: Login, demo: Engine, cid: int) -> None:
    """Cancel and wait until the campaign's workflow has closed: the next test's database
    hands out the same ids, and workflow ids are made of them."""
    await api.post(f"/api/v1/campaigns/{cid}/cancel", headers=login(MARKETING))
    handle = ENV[0].client.get_workflow_handle(f"campaign-{cid}")
    await asyncio.wait_for(handle.result(), timeout=30)


def _summary(engine: Engine, cid: int) -> dict[str, int]:
    with Session(engine) as s:
        campaign = s.get(Campaign, cid)
        return dict(campaign.summary) if campaign else {}


async def test_four_eyes_and_request_changes_loop(
    app_with_worker: httpx.AsyncClient, login: Login, demo: Engine, record_history: Record
) -> None:
    api = app_with_worker
    cid, pcid = await launched(api, login, demo)
    await submit_content(api, login, GM_AMS, pcid)  # the GM personalises and submits itself
    own = await act(api, login, GM_AMS, pcid, "decision", decision="approve")
    assert own.status_code == 403
    assert "Four eyes" in own.json()["detail"]

    no_comment = await act(api, login, NORTH, pcid, "decision", decision="request_changes")
    assert no_comment.status_code == 403  # the region manager decides only after escalation

    # Another GM path: the editor submits, the GM asks for changes.
    cid2, pcid2 = await launched(api, login, demo, name="Second")
    await submit_content(api, login, EDITOR_AMS, pcid2)
    missing = await act(api, login, GM_AMS, pcid2, "decision", decision="request_changes")
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "comment"
    changes = await act(
        api, login, GM_AMS, pcid2, "decision", decision="request_changes", comment="Add a time"
    )
    assert changes.json()["state"] == "changes_requested"
    assert changes.json()["decision_comment"] == "Add a time"
    assert open_tasks(demo, pcid2) == {"personalise"}
    await submit_content(api, login, EDITOR_AMS, pcid2)
    final = await act(api, login, GM_AMS, pcid2, "decision", decision="approve")
    assert final.json()["state"] == "approved"
    await finish(api, login, demo, cid2)
    await finish(api, login, demo, cid)
    await record_history(partner_campaign(demo, cid2, "amsterdam").workflow_id, "partner_loop")


async def test_reject_decline_and_gm_then_hq(
    app_with_worker: httpx.AsyncClient, login: Login, demo: Engine
) -> None:
    api = app_with_worker
    cid, pcid = await launched(api, login, demo, approval_policy="gm_then_hq")
    berlin = partner_campaign(demo, cid, "berlin").id or 0
    hamburg = partner_campaign(demo, cid, "hamburg").id or 0

    await submit_content(api, login, EDITOR_AMS, pcid)
    forwarded = await act(api, login, GM_AMS, pcid, "decision", decision="approve")
    assert forwarded.json()["state"] == "pending_approval"
    assert forwarded.json()["approval"]["name"] == "hq"
    assert partner_campaign(demo, cid, "amsterdam").approval_stage == "hq"
    assert open_tasks(demo, pcid) == {"approve"}
    gm_again = await act(api, login, GM_AMS, pcid, "decision", decision="approve")
    assert gm_again.status_code == 403
    hq = await act(api, login, REVIEWER, pcid, "decision", decision="approve")
    assert hq.json()["state"] == "approved", hq.text

    await submit_content(api, login, "editor.berlin@northwind.example", berlin)
    rejected = await act(
        api, login, GM_BERLIN, berlin, "decision", decision="reject", comment="Off-brand"
    )
    assert rejected.json()["state"] == "rejected"
    again = await act(api, login, "editor.berlin@northwind.example", berlin, "submit")
    assert again.status_code == 409

    declined = await act(api, login, "editor.hamburg@northwind.example", hamburg, "decline")
    assert declined.json()["state"] == "declined"
    await finish(api, login, demo, cid)
    assert _summary(demo, cid) == {"cancelled": 1, "rejected": 1, "declined": 1}


async def test_reminder_escalation_and_expiry(
    app_with_worker: httpx.AsyncClient,
    login: Login,
    demo: Engine,
    workflow_env: WorkflowEnvironment,
) -> None:
    api = app_with_worker
    cid, pcid = await launched(api, login, demo)
    await submit_content(api, login, EDITOR_AMS, pcid)
    await workflow_env.sleep(timedelta(days=1, hours=1))
    reminded = ("partner_campaign.remind", "system")
    await until(lambda: reminded in audit_actions(demo, pcid), "remind")
    refused = await act(api, login, NORTH, pcid, "decision", decision="approve")
    assert refused.status_code == 403
    await workflow_env.sleep(timedelta(days=1))
    await until(lambda: partner_campaign(demo, cid, "amsterdam").escalation_level == 1, "escalate")
    approved = await act(api, login, NORTH, pcid, "decision", decision="approve")
    assert approved.json()["state"] == "approved", approved.text

    # Berlin and Hamburg never acted: the window closes and they expire.
    await workflow_env.sleep(timedelta(days=1))
    await until(lambda: states(demo, cid)["berlin"] == "expired", "expiry")
    assert states(demo, cid)["hamburg"] == "expired"
    await finish(api, login, demo, cid)


async def test_opt_out_goes_ahead_and_extension_moves_the_window(
    app_with_worker: httpx.AsyncClient,
    login: Login,
    demo: Engine,
    workflow_env: WorkflowEnvironment,
) -> None:
    api = app_with_worker
    cid, _ = await launched(
        api, login, demo, mode="opt_out", approval_policy="none", defaults=values()
    )
    later = CLOCK[0] + timedelta(days=5)
    extended = await api.post(
        f"/api/v1/campaigns/{cid}/extend",
        json={"personalise_until": later.isoformat()},
        headers=login(MARKETING),
    )
    assert extended.status_code == 200, extended.text
    await workflow_env.sleep(timedelta(days=4))
    await asyncio.sleep(0.5)
    assert set(states(demo, cid).values()) == {"drafting"}  # the old window end has passed
    await workflow_env.sleep(timedelta(days=2))
    await until(lambda: set(states(demo, cid).values()) == {"scheduled"}, "go ahead")
    await finish(api, login, demo, cid)


async def test_launch_is_idempotent(
    app_with_worker: httpx.AsyncClient, login: Login, demo: Engine
) -> None:
    api = app_with_worker
    cid, _ = await launched(api, login, demo)
    again = await api.post(f"/api/v1/campaigns/{cid}/launch", headers=login(MARKETING))
    assert again.status_code == 200
    await asyncio.sleep(0.3)
    assert len(states(demo, cid)) == 3
    with Session(demo) as s:
        opens = s.exec(
            select(AuditEvent.id).where(AuditEvent.action == "partner_campaign.open")
        ).all()
    assert len(opens) == 3
    await finish(api, login, demo, cid)


async def test_partners_added_while_running(
    app_with_worker: httpx.AsyncClient, login: Login, demo: Engine
) -> None:
    api = app_with_worker
    with Session(demo) as s:
        ids = {p.slug: p.id for p in s.exec(select(Partner)).all()}
    cid = make_campaign(demo, target={"partners": [ids["amsterdam"]]})
    assert (await api.post(f"/api/v1/campaigns/{cid}/launch", headers=login(MARKETING))).is_success
    await until(lambda: states(demo, cid) == {"amsterdam": "drafting"}, "Amsterdam drafting")
    added = await api.post(
        f"/api/v1/campaigns/{cid}/partners",
        json={"partners": [ids["berlin"], ids["amsterdam"]]},
        headers=login(MARKETING),
    )
    assert added.status_code == 201, added.text
    await until(
        lambda: states(demo, cid) == {"amsterdam": "drafting", "berlin": "drafting"},
        "Berlin drafting",
        show=lambda: states(demo, cid),
    )
    foreign = await api.post(
        f"/api/v1/campaigns/{cid}/partners", json={"partners": [999999]}, headers=login(MARKETING)
    )
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["field"] == "partners"
    await finish(api, login, demo, cid)
    assert _summary(demo, cid) == {"cancelled": 2}


async def test_large_campaigns_fan_out_through_shards(
    app_with_worker: httpx.AsyncClient,
    login: Login,
    demo: Engine,
    workflow_env: WorkflowEnvironment,
) -> None:
    """With at most 2 children per parent, North's 3 partners go through 2 shards."""
    from services import campaign_actions, campaigns
    from workflows.campaign import CampaignWorkflow

    api = app_with_worker
    queue = api._transport.app.state.settings.temporal_task_queue  # type: ignore[attr-defined]
    cid = make_campaign(demo)
    with Session(demo) as s:
        campaign = s.get(Campaign, cid)
        assert campaign is not None
        campaigns.create_partner_campaigns(
            s, campaign, campaigns.resolve_target_partners(s, campaign)
        )
        campaign.state = "running"
        s.add(campaign)
        s.commit()
        shared = campaign_actions.shared_for(s, campaign)
    await workflow_env.client.start_workflow(
        CampaignWorkflow.run,
        CampaignWorkflowInput(shared=shared, max_children=2),
        id=f"campaign-{cid}",
        task_queue=queue,
    )
    await until(lambda: set(states(demo, cid).values()) == {"drafting"}, "drafting")
    for shard in (0, 1):
        info = await workflow_env.client.get_workflow_handle(
            f"campaign-{cid}-shard-{shard}"
        ).describe()
        assert info.status is not None and info.status.name == "RUNNING"
    await finish(api, login, demo, cid)
    assert _summary(demo, cid) == {"cancelled": 3}


def _running_campaign(engine: Engine) -> tuple[int, list[int], Any]:
    """A launched campaign for North whose workflow is not started yet: (id, partner campaign
    ids, the shared input)."""
    from services import campaign_actions, campaigns

    cid = make_campaign(engine)
    with Session(engine) as s:
        campaign = s.get(Campaign, cid)
        assert campaign is not None
        rows = campaigns.create_partner_campaigns(
            s, campaign, campaigns.resolve_target_partners(s, campaign)
        )
        campaign.state = "running"
        s.add(campaign)
        s.commit()
        shared = campaign_actions.shared_for(s, campaign)
        return cid, [r.id or 0 for r in rows], shared


def _keys(engine: Engine, action: str, cid: int) -> list[str]:
    with Session(engine) as s:
        return list(
            s.exec(
                select(AuditEvent.event_key).where(
                    AuditEvent.action == action,
                    col(AuditEvent.event_key).contains(f"partner-campaign-{cid}-"),
                )
            ).all()
        )


async def test_fanout_projects_and_invites_exactly_once(
    app_with_worker: httpx.AsyncClient,
    login: Login,
    demo: Engine,
    workflow_env: WorkflowEnvironment,
    record_history: Record,
) -> None:
    """The fan-out projects invited -> drafting for a page in one transaction and the campaign
    sends the page's invitations in one activity. A start activity that died after its
    projection (the workflows not started), its retry, another retry after the starts, a
    second launch and a retried invitation activity: one open event and one task per partner,
    one invitation per recipient, every workflow started once and drafting."""
    from temporalio.testing import ActivityEnvironment

    from activities.campaigns import open_partner_campaigns
    from activities.fanout import FanoutActivities
    from activities.notifications import SENT_ACTION, send_invitations
    from domain.workflow_ids import partner_campaign_workflow_id
    from mail.transport import make_transport
    from models.outbox import OutboxMessage
    from models.workflow_io import InvitePartners, StartPartners
    from workflows.campaign import CampaignWorkflow
    from workflows.partner_campaign import PartnerCampaignWorkflow, pinned_policy

    api = app_with_worker
    queue = api._transport.app.state.settings.temporal_task_queue  # type: ignore[attr-defined]
    cid, ids, shared = _running_campaign(demo)
    wids = {
        pcid: partner_campaign_workflow_id(cid, partner_campaign(demo, cid, slug).partner_id)
        for slug, pcid in (
            (slug, partner_campaign(demo, cid, slug).id) for slug in states(demo, cid)
        )
        if pcid is not None
    }

    # The first attempt projected the page and died before starting anything.
    def wid_of(ref: Any) -> str:
        return partner_campaign_workflow_id(cid, ref.partner_id)

    first = open_partner_campaigns(demo, shared, ids, wid_of, pinned_policy(shared).version_id)
    assert all(o.entry is not None for o in first)
    assert set(states(demo, cid).values()) == {"drafting"}
    # Its retry hands the same entries out again (the rows are no longer invited).
    again = open_partner_campaigns(demo, shared, ids, wid_of, pinned_policy(shared).version_id)
    assert [o.entry for o in again] == [o.entry for o in first]

    # The campaign workflow's start activity is that retry: it starts every workflow.
    await workflow_env.client.start_workflow(
        CampaignWorkflow.run,
        CampaignWorkflowInput(shared=shared),
        id=f"campaign-{cid}",
        task_queue=queue,
    )
    await until(lambda: len(_keys(demo, SENT_ACTION, cid)) >= 6, "every invitation")
    for wid in wids.values():
        status = await workflow_env.client.get_workflow_handle(wid).query(
            PartnerCampaignWorkflow.status
        )
        assert status.state == "drafting" and [e.event for e in status.timeline] == ["open"]

    # Retries after the starts, and a second launch: nothing new anywhere.
    page = StartPartners(
        shared=shared,
        partner_campaign_ids=ids,
        report_to=f"campaign-{cid}",
        task_queue=queue,
        project_open=True,
    )
    retried = await ActivityEnvironment(client=workflow_env.client).run(
        FanoutActivities(demo).start_partner_workflows, page
    )
    assert retried.started == {} and set(retried.existing) == set(ids)
    relaunch = await api.post(f"/api/v1/campaigns/{cid}/launch", headers=login(MARKETING))
    assert relaunch.status_code == 200, relaunch.text
    invite = InvitePartners(
        campaign_id=cid,
        campaign_name=shared.name,
        brand_id=shared.brand_id,
        personalise_until=shared.personalise_until,
        partner_campaign_ids=ids,
    )
    local = api._transport.app.state.settings  # type: ignore[attr-defined]
    assert send_invitations(demo, local, make_transport(local, demo), invite) == 0
    await asyncio.sleep(0.3)

    opens = _keys(demo, "partner_campaign.open", cid)
    assert sorted(opens) == sorted(f"{wid}:1:open" for wid in wids.values())
    invitations = _keys(demo, SENT_ACTION, cid)
    assert len(invitations) == len(set(invitations)) == 6  # an editor and a GM per partner
    assert all(":1:invited:" in key for key in invitations)
    with Session(demo) as s:
        emails = s.exec(
            select(OutboxMessage.id).where(col(OutboxMessage.partner_campaign_id).in_(ids))
        ).all()
        tasks = s.exec(
            select(ApprovalTask.partner_campaign_id).where(
                col(ApprovalTask.partner_campaign_id).in_(ids)
            )
        ).all()
    assert len(emails) == 6
    assert sorted(tasks) == sorted(ids)  # one personalise task each
    for wid in wids.values():
        history = await workflow_env.client.get_workflow_handle(wid).fetch_history()
        starts = [
            e for e in history.events if e.HasField("workflow_execution_started_event_attributes")
        ]
        activities = [
            e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
        ]
        assert len(starts) == 1 and activities == []  # no projection, no notice of its own
    await finish(api, login, demo, cid)
    assert _summary(demo, cid) == {"cancelled": 3}
    await record_history(next(iter(wids.values())), "partner_opened_by_fanout")
    await record_history(f"campaign-{cid}", "campaign_opens_and_invites")


async def test_start_pages_overlap(
    app_with_worker: httpx.AsyncClient,
    login: Login,
    demo: Engine,
    workflow_env: WorkflowEnvironment,
    record_history: Record,
) -> None:
    """One partner a page, two pages in flight: every partner started once, drafting, invited
    once; the campaign ran one start activity per page and one invitation activity per page."""
    from activities.notifications import SENT_ACTION
    from workflows.campaign import CampaignWorkflow

    api = app_with_worker
    queue = api._transport.app.state.settings.temporal_task_queue  # type: ignore[attr-defined]
    cid, ids, shared = _running_campaign(demo)
    assert len(ids) == 3
    handle = await workflow_env.client.start_workflow(
        CampaignWorkflow.run,
        CampaignWorkflowInput(shared=shared, page_size=1),
        id=f"campaign-{cid}",
        task_queue=queue,
    )
    await until(lambda: len(_keys(demo, SENT_ACTION, cid)) >= 6, "every invitation")
    assert set(states(demo, cid).values()) == {"drafting"}
    assert await handle.query(CampaignWorkflow.started_count) == 3
    history = await handle.fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled.count("start_partner_workflows") == 3
    assert scheduled.count("invite_partners") == 3
    markers = [
        e.SerializeToString()
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
    ]
    assert any(b"start-pages-overlap" in m for m in markers)
    # The first two pages were scheduled in one workflow task: they ran at once.
    first_task = [
        e.activity_task_scheduled_event_attributes.workflow_task_completed_event_id
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name
        == "start_partner_workflows"
    ][:2]
    assert first_task[0] == first_task[1]
    opens = _keys(demo, "partner_campaign.open", cid)
    assert len(opens) == len(set(opens)) == 3
    invitations = _keys(demo, SENT_ACTION, cid)
    assert len(invitations) == len(set(invitations)) == 6
    await finish(api, login, demo, cid)
    assert _summary(demo, cid) == {"cancelled": 3}
    await record_history(f"campaign-{cid}", "campaign_start_pages_overlap")


@pytest.mark.parametrize(
    "name",
    [
        "partner_happy",
        "partner_loop",
        "campaign_cancel",
        # Recorded before approval policies: the built-in policies must keep these executions
        # on their rules (gm_then_hq forwarding, reminder and escalation, expiry, opt-out).
        "legacy_gm_then_hq",
        "legacy_rejected",
        "legacy_declined",
        "legacy_escalated",
        "legacy_expired",
        "legacy_opt_out",
        # Policies as data: a three-stage chain with a quorum, a condition, delegation and a
        # vote that does not pass its stage; an all-of stage ended by one rejection.
        "chain_standard",
        "chain_all_rejected",
        # The fan-out projects the open transition and sends the invitations: a partner
        # workflow started with its open entry, a campaign that invites per page.
        "partner_opened_by_fanout",
        "campaign_opens_and_invites",
        # Two start pages in flight (start-pages-overlap).
        "campaign_start_pages_overlap",
        # Approved without a send time: the schedule reminder, then a send started with its
        # search attributes and summary (schedule-reminder, send-search-attributes).
        "partner_reminded_scheduled_sent",
    ],
)
async def test_saved_campaign_histories_replay(name: str) -> None:
    """Histories recorded from earlier code must replay (see docs/operations.md)."""
    from temporalio.client import WorkflowHistory
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Replayer

    from workflows.campaign import CampaignWorkflow
    from workflows.partner_campaign import PartnerCampaignWorkflow

    history = WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
    await Replayer(
        workflows=[CampaignWorkflow, PartnerCampaignWorkflow],
        data_converter=pydantic_data_converter,
    ).replay_workflow(history)
