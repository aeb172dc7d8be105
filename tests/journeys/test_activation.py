"""A partner switches a journey on: the editor requests it with the partner's content, the
approval chain (the built-in GM stage) decides on the time-skipping server with real activities
and database -> active; rejected with the reason; switch off; who may do what, and another
partner's activation is a 404. A saved history replays."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from models.audit import AuditEvent
from models.chain_tasks import ChainTask
from models.journeys import JourneyActivation
from models.outbox import OutboxMessage
from services.audit import verify_chain
from tests.campaigns.test_campaign_workflows import until
from tests.journeys.design_fixtures import (
    ADMIN,
    EDITOR,
    GM,
    GM_HAMBURG,
    NORTH,
    content,
    journey_row,
    open_day_version,
    partner,
)
from workflows.journey_activation import JourneyActivationWorkflow

Record = Callable[[str, str], Awaitable[None]]
Login = Callable[[str], dict[str, str]]
HISTORIES = Path(__file__).parent.parent / "histories"


def row(engine: Engine, activation_id: int) -> JourneyActivation:
    with Session(engine) as s:
        found = s.get(JourneyActivation, activation_id)
        assert found is not None
        s.expunge(found)
        return found


def actions(engine: Engine, activation_id: int) -> list[str]:
    with Session(engine) as s:
        return list(
            s.exec(
                select(AuditEvent.action)
                .where(
                    AuditEvent.entity_type == "journey_activation",
                    AuditEvent.entity_id == str(activation_id),
                    col(AuditEvent.action).startswith("journey_activation."),
                )
                .order_by(col(AuditEvent.seq))
            ).all()
        )


def task_open(engine: Engine, activation_id: int) -> bool:
    with Session(engine) as s:
        task = s.exec(
            select(ChainTask).where(
                ChainTask.subject == "journey_activation", ChainTask.subject_id == activation_id
            )
        ).first()
        return task is not None and task.open


def mails_to(engine: Engine, email: str) -> list[str]:
    with Session(engine) as s:
        found = s.exec(select(OutboxMessage).where(col(OutboxMessage.to).contains(email))).all()
        return [m.subject for m in found]


def paths(journey_id: int, slug_id: int) -> tuple[str, str, str]:
    base = f"/api/v1/journeys/{journey_id}/activations/{slug_id}"
    return f"{base}/switch-on", f"{base}/decide", f"{base}/switch-off"


async def requested(
    api: httpx.AsyncClient, engine: Engine, login: Login, email: str = EDITOR
) -> tuple[int, int, str, str, str]:
    jid = journey_row(engine, open_day_version(engine))
    on, decide, off = paths(jid, partner(engine).id or 0)
    resp = await api.post(on, json={"values": content()}, headers=login(email))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["state"] == "pending_approval" and body["version"] == 1
    aid = body["id"]
    await until(lambda: task_open(engine, aid), "the GM's task")
    return jid, aid, on, decide, off


async def test_editor_requests_gm_approves_in_the_inbox_and_the_journey_runs(
    app_with_worker: httpx.AsyncClient,
    workflow_env: WorkflowEnvironment,
    demo: Engine,
    login: Login,
    record_history: Record,
) -> None:
    api = app_with_worker
    _, aid, on, decide, off = await requested(api, demo, login)
    again = await api.post(on, json={"values": content()}, headers=login(GM))
    assert again.status_code == 409  # one request waits already

    await until(lambda: any("Birthday" in m for m in mails_to(demo, GM)), "the GM's email")
    own = await api.post(decide, json={"decision": "approve"}, headers=login(EDITOR))
    assert own.status_code == 403  # the editor decides nothing (and never their own request)
    hq = await api.post(decide, json={"decision": "approve"}, headers=login(ADMIN))
    assert hq.status_code == 403  # the GM's stage: not HQ's
    await workflow_env.sleep(timedelta(days=1))  # a day in the inbox: no reminder yet
    approved = await api.post(
        decide, json={"decision": "approve", "comment": "Lovely"}, headers=login(GM)
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "active"
    found = row(demo, aid)
    assert found.approved_at is not None and found.values == content()
    handle = workflow_env.client.get_workflow_handle(found.workflow_id)
    assert await handle.result() == "active"
    await record_history(found.workflow_id, "journey_activation_approved")
    assert actions(demo, aid) == [
        "journey_activation.requested",
        "journey_activation.submitted",
        "journey_activation.approved",
        "journey_activation.state_changed",
    ]
    assert not task_open(demo, aid)

    by_editor = await api.post(off, json={}, headers=login(EDITOR))
    assert by_editor.status_code == 403  # the GM switches off
    switched = await api.post(off, json={"reason": "Too many mails"}, headers=login(GM))
    assert switched.status_code == 200 and switched.json()["state"] == "off"
    assert row(demo, aid).reason == "Too many mails"
    twice = await api.post(off, json={}, headers=login(GM))
    assert twice.status_code == 409
    assert actions(demo, aid)[-1] == "journey_activation.switched_off"
    with Session(demo) as s:
        assert verify_chain(s, found.brand_id).ok


async def test_a_rejected_request_keeps_the_reason_and_may_be_made_again(
    app_with_worker: httpx.AsyncClient,
    workflow_env: WorkflowEnvironment,
    demo: Engine,
    login: Login,
    record_history: Record,
) -> None:
    api = app_with_worker
    _, aid, on, decide, _ = await requested(api, demo, login)
    no_reason = await api.post(decide, json={"decision": "reject"}, headers=login(GM))
    assert no_reason.status_code == 422 and "comment" in no_reason.text
    rejected = await api.post(
        decide,
        json={"decision": "reject", "comment": "Not before the new year"},
        headers=login(GM),
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["state"] == "rejected"
    found = row(demo, aid)
    assert found.reason == "Not before the new year"
    assert await workflow_env.client.get_workflow_handle(found.workflow_id).result() == "rejected"
    await record_history(found.workflow_id, "journey_activation_rejected")
    again = await api.post(on, json={"values": content()}, headers=login(EDITOR))
    assert again.status_code == 200 and again.json()["state"] == "pending_approval"
    second = row(demo, aid)
    assert second.workflow_id != found.workflow_id and second.reason == ""
    await until(lambda: task_open(demo, aid), "the second request's task")


async def test_a_gm_requesting_themselves_waits_for_the_region_manager(
    app_with_worker: httpx.AsyncClient,
    workflow_env: WorkflowEnvironment,
    demo: Engine,
    login: Login,
) -> None:
    api = app_with_worker
    _, aid, _, decide, off = await requested(api, demo, login, GM)
    own = await api.post(decide, json={"decision": "approve"}, headers=login(GM))
    assert own.status_code == 403  # four eyes
    early = await api.post(decide, json={"decision": "approve"}, headers=login(NORTH))
    assert early.status_code == 403  # not yet escalated
    await workflow_env.sleep(timedelta(days=4, hours=1))
    await until(lambda: "journey_activation.escalated" in actions(demo, aid), "the escalation")
    approved = await api.post(decide, json={"decision": "approve"}, headers=login(NORTH))
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "active"
    assert "journey_activation.reminded" in actions(demo, aid)
    assert (await api.post(off, json={}, headers=login(GM))).status_code == 200


async def test_switching_off_while_waiting_withdraws_the_request(
    app_with_worker: httpx.AsyncClient,
    workflow_env: WorkflowEnvironment,
    demo: Engine,
    login: Login,
) -> None:
    api = app_with_worker
    _, aid, _, decide, off = await requested(api, demo, login)
    resp = await api.post(off, json={}, headers=login(GM))
    assert resp.status_code == 200 and resp.json()["state"] == "off"
    found = row(demo, aid)
    assert await workflow_env.client.get_workflow_handle(found.workflow_id).result() == "off"
    assert not task_open(demo, aid)
    assert row(demo, aid).state == "off"
    late = await api.post(decide, json={"decision": "approve"}, headers=login(GM))
    assert late.status_code == 409
    assert actions(demo, aid)[-2:] == [
        "journey_activation.switched_off",
        "journey_activation.withdrawn",
    ]


async def test_switch_on_checks_the_content_and_the_tenant(
    app_with_worker: httpx.AsyncClient, demo: Engine, login: Login
) -> None:
    api = app_with_worker
    jid = journey_row(demo, open_day_version(demo))
    on, _, off = paths(jid, partner(demo).id or 0)
    bad = content()
    bad["greet"]["event_date"] = "someday"
    bad["nowhere"] = {"x": "y"}
    refused = await api.post(on, json={"values": bad}, headers=login(EDITOR))
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["values.nowhere"]
    del bad["nowhere"]
    refused = await api.post(on, json={"values": bad}, headers=login(EDITOR))
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["values.greet.event_date"]
    missing = await api.post(on, json={"values": {}}, headers=login(EDITOR))
    fields = {e["field"] for e in missing.json()["errors"]}
    assert fields == {"values.greet.event_date", "values.remind.event_date"}
    for email, want in (
        (GM_HAMBURG, 404),  # Hamburg cannot switch Amsterdam's
        ("admin@contoso.example", 404),
        (ADMIN, 403),  # HQ reads, never switches a partner's journey on
        ("marketing@northwind.example", 403),
        (NORTH, 403),
        ("ops@northwind.example", 403),
    ):
        resp = await api.post(on, json={"values": content()}, headers=login(email))
        assert resp.status_code == want, (email, resp.text)
        resp = await api.post(off, json={}, headers=login(email))
        assert resp.status_code == want, (email, resp.text)
    listed = await api.get(f"/api/v1/journeys/{jid}/activations", headers=login(GM_HAMBURG))
    assert listed.json()["items"] == []
    never = await api.post(off, json={}, headers=login(GM))
    assert never.status_code == 409


@pytest.mark.parametrize("name", ["journey_activation_approved", "journey_activation_rejected"])
async def test_saved_activation_histories_replay(name: str) -> None:
    history = WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
    await Replayer(
        workflows=[JourneyActivationWorkflow], data_converter=pydantic_data_converter
    ).replay_workflow(history)
