"""The demo's "Standard" policy end to end on the Temporal dev server, with the demo's own
contacts: Amsterdam sends to everyone (58 recipients: 53 by email, 5 by SMS) and passes three
stages (GM, region manager above 50 recipients, brand review for an `offer` template), Berlin
sends to "Yoga fans"
(33) and passes two. brand@ is on holiday and ops@ decides for brand@. Ops find the campaigns
waiting on brand review by the ApprovalStage search attribute; the timeline and the audit name
every stage and decider."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.approvals import ApprovalPolicy
from models.contacts import Segment
from models.org import Partner, Region, User
from models.templates import Template, TemplateVersion
from scripts.demo.approvals import seed_demo_approvals
from scripts.demo.contacts import seed_demo_contacts
from storage.local import LocalBlobStore
from tests.campaigns.test_e2e_campaign import until, worker

Login = Callable[[str], dict[str, str]]
pytestmark = pytest.mark.e2e
MARKETING = "marketing@northwind.example"
ADMIN = "admin@northwind.example"


def _ids(engine: Engine) -> dict[str, Any]:
    with Session(engine) as s:
        template = s.exec(select(Template).where(Template.name == "Open day")).one()
        version = s.exec(
            select(TemplateVersion).where(TemplateVersion.template_id == template.id)
        ).one()
        berlin = s.exec(select(Partner).where(Partner.slug == "berlin")).one()
        users = {u.email: u.id for u in s.exec(select(User)).all()}
        return {
            "version": version.id,
            "north": s.exec(select(Region).where(Region.name == "North")).one().id,
            "standard": s.exec(
                select(ApprovalPolicy.id).where(ApprovalPolicy.name == "Standard")
            ).one(),
            "yoga": s.exec(
                select(Segment.id).where(
                    Segment.partner_id == berlin.id, Segment.name == "Yoga fans"
                )
            ).one(),
            "users": users,
        }


async def test_the_standard_policy_on_the_demo_data(
    settings: Settings,
    demo: Engine,
    dev_env: WorkflowEnvironment,
    blob_store: LocalBlobStore,
    login: Login,
) -> None:
    with Session(demo) as s:
        seed_demo_contacts(s)
        seed_demo_approvals(s)
        s.commit()
    ids = _ids(demo)
    users = ids["users"]
    local = settings.model_copy(update={"temporal_task_queue": f"e2e-{uuid.uuid4().hex[:8]}"})
    app = create_app(
        local,
        engine=demo,
        temporal=LazyTemporalClient(local, dev_env.client),
        blob_store=blob_store,
    )
    now = datetime.now(UTC)
    event_date = (now + timedelta(days=10)).date().isoformat()
    async with app.router.lifespan_context(app), worker(dev_env, local, demo):
        api = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")

        async def call(who: str, method: str, url: str, **kw: Any) -> dict[str, Any]:
            resp = await api.request(method, f"/api/v1{url}", headers=login(who), **kw)
            assert resp.status_code in (200, 201), resp.text
            body: dict[str, Any] = resp.json()
            return body

        created = await call(
            MARKETING,
            "POST",
            "/campaigns",
            json={
                "name": "Open day with the Standard policy",
                "template_version_id": ids["version"],
                "target": {"regions": [ids["north"]]},
                "personalise_until": (now + timedelta(days=7)).isoformat(),
                "send_by": (now + timedelta(days=14)).isoformat(),
                "approval_policy": ids["standard"],
            },
        )
        cid = created["id"]
        try:
            await call(MARKETING, "POST", f"/campaigns/{cid}/launch")

            async def drafting() -> bool:
                counts = (await call(ADMIN, "GET", f"/campaigns/{cid}"))["counts"]
                return bool(counts == {"drafting": 3})

            await until(drafting, "every North partner drafting")
            rows = (await call(ADMIN, "GET", "/partner-campaigns", params={"campaign_id": cid}))[
                "items"
            ]
            by_partner = {r["partner_id"]: r for r in rows}
            with Session(demo) as s:
                slugs = {p.id: p.slug for p in s.exec(select(Partner)).all()}
            pc = {slugs[p]: r["id"] for p, r in by_partner.items()}
            # The offer per language (a per_locale slot): the workflow keeps the dict.
            offer = {"en": "Bring a friend", "nl": "Neem een vriend mee"}
            content = {"values": {"headline": "Open day", "event_date": event_date, "offer": offer}}
            for city, segment in (("amsterdam", None), ("berlin", ids["yoga"])):
                editor = f"editor.{city}@northwind.example"
                await call(editor, "PUT", f"/partner-campaigns/{pc[city]}/content", json=content)
                body = {"segment_id": segment} if segment else None
                sent = await call(
                    editor, "POST", f"/partner-campaigns/{pc[city]}/submit", json=body
                )
                assert (sent["state"], sent["approval"]["name"]) == ("pending_approval", "gm")
            for city, eligible in (("amsterdam", 58), ("berlin", 33)):
                read = await call(ADMIN, "GET", f"/partner-campaigns/{pc[city]}")
                assert read["audience"]["eligible"] == eligible, (city, read["audience"])
                assert read["values"]["offer"] == offer

            async def decide(who: str, city: str) -> dict[str, Any]:
                return await call(
                    who,
                    "POST",
                    f"/partner-campaigns/{pc[city]}/decision",
                    json={"decision": "approve"},
                )

            # Amsterdam, 58 recipients: GM, then the region manager, then brand review.
            assert (await decide("gm.amsterdam@northwind.example", "amsterdam"))["approval"][
                "name"
            ] == "region"
            assert (await decide("north@northwind.example", "amsterdam"))["approval"][
                "name"
            ] == "brand_review"
            # Berlin, 33: no region stage.
            assert (await decide("gm.berlin@northwind.example", "berlin"))["approval"][
                "name"
            ] == "brand_review"

            # Ops: every partner workflow of this campaign waiting on brand review.
            query = f'CampaignId = "{cid}" AND ApprovalStage = "brand_review"'
            partner_of = {slug: pid for pid, slug in slugs.items()}
            expected = {f"partner-campaign-{cid}-{partner_of[c]}" for c in ("amsterdam", "berlin")}

            async def listed() -> bool:
                return {w.id async for w in dev_env.client.list_workflows(query)} == expected

            await until(listed, "ApprovalStage visibility query")

            # ops@ stands in for brand@ (on holiday); brand2@ decides Berlin.
            tasks = (await call("ops@northwind.example", "GET", "/tasks"))["items"]
            assert {t["partner_campaign_id"] for t in tasks} >= {pc["amsterdam"], pc["berlin"]}
            assert all(t["on_behalf_of"] == users["brand@northwind.example"] for t in tasks)
            done = await decide("ops@northwind.example", "amsterdam")
            assert done["state"] == "approved"
            assert (await decide("brand2@northwind.example", "berlin"))["state"] == "approved"

            timeline = (await call(ADMIN, "GET", f"/partner-campaigns/{pc['amsterdam']}/timeline"))[
                "timeline"
            ]
            decided = [(e["event"], e["stage"], e["actor_id"]) for e in timeline if e["stage"]]
            assert decided[-3:] == [
                ("advance", "gm", users["gm.amsterdam@northwind.example"]),
                ("advance", "region", users["north@northwind.example"]),
                ("approve", "brand_review", users["ops@northwind.example"]),
            ]
            assert timeline[-1]["on_behalf_of"] == users["brand@northwind.example"]
            audit = (
                await call(
                    ADMIN,
                    "GET",
                    "/audit",
                    params={"entity_type": "partner_campaign", "entity_id": str(pc["berlin"])},
                )
            )["items"]
            steps = [(e["action"], (e.get("after") or {}).get("stage")) for e in audit]
            assert ("partner_campaign.advance", "gm") in steps
            assert ("partner_campaign.approve", "brand_review") in steps
            assert not any(stage == "region" for _, stage in steps)
        finally:
            await api.post(f"/api/v1/campaigns/{cid}/cancel", headers=login(MARKETING))
            handle = dev_env.client.get_workflow_handle(f"campaign-{cid}")
            await handle.result()
