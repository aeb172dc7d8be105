"""Webhook events from a real campaign run: the API, the campaign and partner workflows and
their activities on the time-skipping server (delivery itself: test_delivery.py)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from models.webhooks import WebhookEndpoint, WebhookEvent
from services.webhooks.capture import EVENT_TYPES
from services.webhooks.signing import new_secret
from tests.campaigns.test_campaign_workflows import (  # noqa: F401 - server_clock: autouse
    EDITOR_AMS,
    NORTH,
    Login,
    act,
    finish,
    launched,
    partner_campaign,
    server_clock,
    submit_content,
    until,
)
from tests.webhooks.events import brand_of


def _events(engine: Engine, subject: str) -> list[WebhookEvent]:
    with Session(engine) as s:
        return list(
            s.exec(
                select(WebhookEvent)
                .where(WebhookEvent.subject == subject)
                .order_by(col(WebhookEvent.id))
            ).all()
        )


async def test_a_campaign_run_emits_its_webhook_events_in_order(
    app_with_worker: httpx.AsyncClient,
    login: Login,
    demo: Engine,
    workflow_env: WorkflowEnvironment,
) -> None:
    # Written directly (no workflow is nudged): nothing is sent anywhere from this test.
    with Session(demo) as s:
        s.add(
            WebhookEndpoint(
                brand_id=brand_of(demo, NORTH),
                url="https://93.184.215.14/hook",
                event_types=list(EVENT_TYPES),
                secret=new_secret(),
            )
        )
        s.commit()
    api = app_with_worker
    cid, pcid = await launched(api, login, demo)
    await submit_content(api, login, EDITOR_AMS, pcid)
    await workflow_env.sleep(timedelta(days=2, hours=1))  # past the reminder and escalation
    await until(lambda: partner_campaign(demo, cid, "amsterdam").escalation_level == 1, "escalate")
    approved = await act(api, login, NORTH, pcid, "decision", decision="approve")
    assert approved.json()["state"] == "approved", approved.text
    await finish(api, login, demo, cid)

    launch = _events(demo, f"campaign:{cid}")
    assert [e.event_type for e in launch] == ["campaign.launched"]  # cancelled: no completion
    got = [
        (e.event_type, e.payload["data"].get("to_state") or e.payload["data"].get("stage"))
        for e in _events(demo, f"partner_campaign:{pcid}")
    ]
    assert got == [
        ("partner_campaign.state_changed", "drafting"),
        ("partner_campaign.state_changed", "pending_approval"),
        ("approval_task.created", "gm"),
        ("approval_task.overdue", "gm"),
        ("partner_campaign.state_changed", "approved"),
        ("partner_campaign.state_changed", "cancelled"),
    ]
    overdue = _events(demo, f"partner_campaign:{pcid}")[3].payload["data"]
    assert overdue["campaign_id"] == cid and overdue["escalation_level"] == 1
