"""Scheduling as a task (services.scheduling): an approved partner campaign without a send
time is a "schedule" task of the partner's editors in /api/v1/tasks and the portal inbox (no
one else's), closed by picking the send time; the editors are reminded once, REMIND_BEFORE
the send deadline."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from api.portal import session as cookies
from core.settings import Settings
from domain.scheduling import REMIND_BEFORE
from models.audit import AuditEvent
from models.campaigns import PartnerCampaign
from models.org import User
from services.notifications import SCHEDULE_REMINDER
from services.staff_mail import SENT_ACTION
from tests.campaigns.test_campaign_workflows import (
    CLOCK,
    EDITOR_AMS,
    GM_AMS,
    Login,
    act,
    finish,
    launched,
    open_tasks,
    server_clock,  # noqa: F401  (autouse: the workflow server's clock)
    submit_content,
    until,
)

EDITOR_HAM = "editor.hamburg@northwind.example"


def _reminders(engine: Engine, pcid: int) -> list[int]:
    """The recipients of schedule reminders sent for the partner campaign."""
    with Session(engine) as s:
        rows = s.exec(
            select(AuditEvent).where(
                AuditEvent.action == SENT_ACTION, AuditEvent.entity_id == str(pcid)
            )
        ).all()
    return sorted(
        int((e.after or {})["recipient"])
        for e in rows
        if (e.after or {}).get("kind") == SCHEDULE_REMINDER
    )


async def _tasks(api: httpx.AsyncClient, login: Login, who: str) -> list[tuple[str, int]]:
    resp = await api.get("/api/v1/tasks", headers=login(who))
    assert resp.status_code == 200, resp.text
    return [(t["kind"], t["partner_campaign_id"]) for t in resp.json()["items"]]


def _inbox(settings: Settings, api: httpx.AsyncClient, demo: Engine, who: str) -> str:
    with Session(demo) as s:
        user = s.exec(select(User).where(User.email == who)).one()
    found = cookies.new_session(settings, user.id, generation=user.session_generation)
    app = api._transport.app  # type: ignore[attr-defined]
    with TestClient(app, base_url="https://testserver") as portal:
        portal.cookies.set(cookies.COOKIE, cookies.encode(settings, found))
        resp = portal.get("/inbox")
    assert resp.status_code == 200, resp.text
    return resp.text


async def test_approved_without_send_time_is_the_editors_task_and_reminds_once(
    app_with_worker: httpx.AsyncClient,
    login: Login,
    demo: Engine,
    settings: Settings,
    workflow_env: WorkflowEnvironment,
    record_history: Callable[[str, str], Awaitable[None]],
) -> None:
    api = app_with_worker
    cid, pcid = await launched(api, login, demo)
    await submit_content(api, login, EDITOR_AMS, pcid)
    approved = await act(api, login, GM_AMS, pcid, "decision", decision="approve")
    assert approved.json()["state"] == "approved", approved.text
    assert open_tasks(demo, pcid) == {"schedule"}

    assert ("schedule", pcid) in await _tasks(api, login, EDITOR_AMS)
    assert all(pc != pcid for _, pc in await _tasks(api, login, EDITOR_HAM))  # tenant boundary
    inbox = _inbox(settings, api, demo, EDITOR_AMS)
    assert f'href="/partner-campaigns/{pcid}#schedule-h"' in inbox
    assert f"/partner-campaigns/{pcid}#schedule-h" not in _inbox(settings, api, demo, EDITOR_HAM)

    # No reminder before the reminder point; one (per editor) after it, however long it waits.
    assert _reminders(demo, pcid) == []
    send_by = CLOCK[0] + timedelta(days=10)
    before = send_by - REMIND_BEFORE - await workflow_env.get_current_time()
    await workflow_env.sleep(before + timedelta(hours=1))
    await until(lambda: bool(_reminders(demo, pcid)), "the schedule reminder")
    first = _reminders(demo, pcid)
    with Session(demo) as s:
        editor = s.exec(select(User).where(User.email == EDITOR_AMS)).one()
    assert editor.id in first and len(first) == len(set(first))
    await workflow_env.sleep(timedelta(hours=6))
    assert _reminders(demo, pcid) == first

    send_at = (await workflow_env.get_current_time() + timedelta(hours=2)).isoformat()
    scheduled = await act(api, login, EDITOR_AMS, pcid, "schedule", send_at=send_at)
    assert scheduled.json()["state"] == "scheduled", scheduled.text
    assert open_tasks(demo, pcid) == set()
    assert ("schedule", pcid) not in await _tasks(api, login, EDITOR_AMS)

    # At the chosen time the send runs to the end: the saved history covers the reminder and
    # the send's start with its search attributes (patches schedule-reminder and
    # send-search-attributes).
    await workflow_env.sleep(timedelta(hours=3))
    await until(lambda: _state(demo, pcid) in ("sent", "partially_sent"), "the send")
    await record_history(_workflow_id(demo, pcid), "partner_reminded_scheduled_sent")
    await finish(api, login, demo, cid)


def _state(engine: Engine, pcid: int) -> str:
    with Session(engine) as s:
        row = s.get(PartnerCampaign, pcid)
        return row.state if row else ""


def _workflow_id(engine: Engine, pcid: int) -> str:
    with Session(engine) as s:
        row = s.get(PartnerCampaign, pcid)
        assert row is not None and row.workflow_id
        return row.workflow_id
