"""End to end on the Temporal dev server through the HTTP API: HQ launches "Open day" to region
North, the Amsterdam editor personalises and submits, the worker is stopped and a new one
started while the approval is pending, the GM finds the task in /tasks and approves. The state,
the inbox, the timeline and the audit trail survive; the workflows can be found by their search
attributes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from domain.workflow_ids import campaign_workflow_id
from models.org import Region
from models.templates import Template, TemplateVersion
from models.workflow_io import CampaignSummary
from registry import queues
from storage.local import LocalBlobStore

Login = Callable[[str], dict[str, str]]
pytestmark = pytest.mark.e2e


@asynccontextmanager
async def worker(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> AsyncIterator[None]:
    spec = queues(settings, engine)[0]
    with ThreadPoolExecutor(8) as pool:
        async with Worker(
            env.client,
            task_queue=settings.temporal_task_queue,
            workflows=spec.workflows,
            activities=spec.activities,
            activity_executor=pool,
            # Let running activities finish: an interrupted one can leave its database
            # connection in an open transaction.
            graceful_shutdown_timeout=timedelta(seconds=5),
        ):
            yield


async def until(check: Callable[[], object], what: str, seconds: float = 30) -> None:
    for _ in range(int(seconds * 10)):
        if await check() if asyncio.iscoroutinefunction(check) else check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_launch_submit_restart_worker_approve(
    settings: Settings,
    demo: Engine,
    dev_env: WorkflowEnvironment,
    blob_store: LocalBlobStore,
    login: Login,
) -> None:
    local = settings.model_copy(update={"temporal_task_queue": f"e2e-{uuid.uuid4().hex[:8]}"})
    app = create_app(
        local,
        engine=demo,
        temporal=LazyTemporalClient(local, dev_env.client),
        blob_store=blob_store,
    )
    with Session(demo) as s:
        template = s.exec(select(Template).where(Template.name == "Open day")).one()
        version = s.exec(
            select(TemplateVersion).where(TemplateVersion.template_id == template.id)
        ).one()
        north = s.exec(select(Region).where(Region.name == "North")).one()
    now = datetime.now(UTC)
    async with app.router.lifespan_context(app):
        api = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        created = await api.post(
            "/api/v1/campaigns",
            json={
                "name": f"Open day {uuid.uuid4().hex[:6]}",
                "template_version_id": version.id,
                "target": {"regions": [north.id]},
                "personalise_until": (now + timedelta(days=7)).isoformat(),
                "send_by": (now + timedelta(days=14)).isoformat(),
                "mode": "opt_in",
                "approval_policy": "gm",
                "remind_after": "P2D",
                "escalate_after": "P4D",
            },
            headers={**login("marketing@northwind.example"), "Idempotency-Key": "e2e-1"},
        )
        assert created.status_code == 201, created.text
        cid = created.json()["id"]

        async with worker(dev_env, local, demo):
            launched = await api.post(
                f"/api/v1/campaigns/{cid}/launch", headers=login("marketing@northwind.example")
            )
            assert launched.status_code == 200, launched.text

            async def all_drafting() -> bool:
                counts = (
                    await api.get(
                        f"/api/v1/campaigns/{cid}", headers=login("admin@northwind.example")
                    )
                ).json()["counts"]
                return counts == {"drafting": 3}

            await until(all_drafting, "every North partner drafting")
            mine = (
                await api.get(
                    "/api/v1/partner-campaigns",
                    params={"campaign_id": cid},
                    headers=login("editor.amsterdam@northwind.example"),
                )
            ).json()["items"]
            assert len(mine) == 1  # the editor sees its own partner only
            pcid = mine[0]["id"]
            event_date = (now + timedelta(days=10)).date().isoformat()
            saved = await api.put(
                f"/api/v1/partner-campaigns/{pcid}/content",
                json={"values": {"headline": "Open day at Damrak", "event_date": event_date}},
                headers=login("editor.amsterdam@northwind.example"),
            )
            assert saved.status_code == 200, saved.text
            submitted = await api.post(
                f"/api/v1/partner-campaigns/{pcid}/submit",
                headers=login("editor.amsterdam@northwind.example"),
            )
            assert submitted.json()["state"] == "pending_approval", submitted.text
            assert submitted.json()["approval"]["name"] == "gm"

        # No worker now: the approval waits durably; the inbox is the database's.
        tasks = (
            await api.get("/api/v1/tasks", headers=login("gm.amsterdam@northwind.example"))
        ).json()
        assert [
            (t["partner_campaign_id"], t["kind"], t["stage"]["name"]) for t in tasks["items"]
        ] == [(pcid, "approve", "gm")]
        berlin = await api.get(
            f"/api/v1/partner-campaigns/{pcid}", headers=login("gm.berlin@northwind.example")
        )
        assert berlin.status_code == 404

        async with worker(dev_env, local, demo):
            refused = await api.post(
                f"/api/v1/partner-campaigns/{pcid}/decision",
                json={"decision": "approve"},
                headers=login("editor.amsterdam@northwind.example"),
            )
            assert refused.status_code == 403
            approved = await api.post(
                f"/api/v1/partner-campaigns/{pcid}/decision",
                json={"decision": "approve"},
                headers=login("gm.amsterdam@northwind.example"),
            )
            assert approved.status_code == 200, approved.text
            assert approved.json()["state"] == "approved"

            timeline = (
                await api.get(
                    f"/api/v1/partner-campaigns/{pcid}/timeline",
                    headers=login("gm.amsterdam@northwind.example"),
                )
            ).json()
            assert [e["event"] for e in timeline["timeline"]] == [
                "open",
                "save",
                "submit",
                "approve",
            ]
            audit = (
                await api.get(
                    "/api/v1/audit",
                    params={"entity_type": "partner_campaign", "entity_id": str(pcid)},
                    headers=login("admin@northwind.example"),
                )
            ).json()
            actions = {e["action"] for e in audit["items"]}
            assert {"partner_campaign.submit", "partner_campaign.approve"} <= actions

            # Ops find the workflows by campaign and approval state (visibility is eventual).
            query = f'CampaignId = "{cid}" AND ApprovalState = "approved"'

            async def listed() -> bool:
                ids = [w.id async for w in dev_env.client.list_workflows(query)]
                return ids == [f"partner-campaign-{cid}-{mine[0]['partner_id']}"]

            await until(listed, "visibility query")

            # Every email workflow carries Channel from its start: the campaign and each
            # partner's (a send is started with it by its partner campaign).
            by_channel = f'CampaignId = "{cid}" AND Channel = "email"'

            async def channel_listed() -> bool:
                ids = {w.id async for w in dev_env.client.list_workflows(by_channel)}
                return len(ids) == 4 and campaign_workflow_id(cid) in ids

            await until(channel_listed, "Channel search attribute")

            cancelled = await api.post(
                f"/api/v1/campaigns/{cid}/cancel", headers=login("marketing@northwind.example")
            )
            assert cancelled.status_code == 200
            handle = dev_env.client.get_workflow_handle(
                f"campaign-{cid}", result_type=CampaignSummary
            )
            summary = await asyncio.wait_for(handle.result(), timeout=30)
            assert summary.counts == {"cancelled": 3}
        await api.aclose()
