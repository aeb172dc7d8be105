"""End to end on the Temporal dev server with the worker as its own process: a partner campaign
approved for a 5,000-contact segment is sent while the worker is killed with SIGKILL three
times and started again. The outbox then holds exactly one message per eligible recipient
(a kill may add at most one duplicate: the message in flight), none is missing, and
suppressed or unconsented contacts got nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, insert
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import PROJECT_ROOT, Settings
from core.temporal import LazyTemporalClient
from models.contacts import Contact, Segment
from models.org import Partner, Region
from models.templates import Template, TemplateVersion
from services import suppression
from storage.local import LocalBlobStore

Login = Callable[[str], dict[str, str]]
pytestmark = pytest.mark.e2e
AUDIENCE = 5_000
KILL_AT = (700, 1_900, 3_100)  # sent counts after which the worker is killed


def _contacts(engine: Engine, partner: Partner, run: str) -> tuple[set[str], set[str]]:
    """(eligible addresses, addresses that must get nothing)."""
    rows = []
    for i in range(AUDIENCE):
        rows.append(
            {
                "brand_id": partner.brand_id,
                "partner_id": partner.id,
                "email": f"bulk.{run}.{i}@customers.example",
                "name": f"Customer {i}",
                "locale": "en",
                "consent_status": "granted",
                "consent_source": "test",
                "tags": ["bulk"],
                "attributes": {},
            }
        )
    for i in range(40):
        rows.append(
            {
                **rows[0],
                "email": f"noconsent.{run}.{i}@customers.example",
                "consent_status": "denied",
            }
        )
    with Session(engine) as s:
        s.execute(insert(Contact), rows)
        blocked = {f"bulk.{run}.{i}@customers.example" for i in range(0, AUDIENCE, 250)}
        for email in blocked:
            suppression.suppress(s, partner.brand_id, email, "unsubscribed")
        s.commit()
    everyone = {r["email"] for r in rows}
    unconsented = {e for e in everyone if e.startswith("noconsent.")}
    return everyone - unconsented - blocked, unconsented | blocked


def _worker_env(settings: Settings, env: WorkflowEnvironment, queue: str, data: Path) -> dict:
    out = dict(os.environ)
    out.update(
        {
            "DATABASE_URL": settings.resolved_database_url,
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "TEMPORAL_TASK_QUEUE": queue,
            "TEMPORAL_DELIVERY_TASK_QUEUE": f"{queue}-delivery",
            "TEMPORAL_DOCUMENTS_TASK_QUEUE": f"{queue}-documents",
            "DATA_DIR": str(data),
            "EMAIL_TRANSPORT": "outbox",
            "SECRET_KEY": settings.secret_key.get_secret_value(),
            "LOG_LEVEL": "WARNING",
            "WORKER_SHUTDOWN_GRACE": "1",
        }
    )
    return out


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "worker.py"], cwd=PROJECT_ROOT, env=env, stdout=out, stderr=out
        )


def _outbox_recipients(outbox: Path) -> Counter[str]:
    parser = BytesParser(policy=policy.default)
    counts: Counter[str] = Counter()
    for path in outbox.glob("*.eml"):
        msg = parser.parsebytes(path.read_bytes())
        counts[str(msg["To"]).strip("<>")] += 1
    return counts


async def _wait(check: Callable[[], object], what: str, seconds: float) -> None:
    for _ in range(int(seconds * 5)):
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def test_send_survives_three_worker_kills_with_one_message_per_recipient(
    settings: Settings,
    demo: Engine,
    dev_env: WorkflowEnvironment,
    blob_store: LocalBlobStore,
    login: Login,
    tmp_path: Path,
) -> None:
    queue = f"e2e-send-{uuid.uuid4().hex[:8]}"
    local = settings.model_copy(
        update={
            "temporal_task_queue": queue,
            "temporal_delivery_task_queue": f"{queue}-delivery",
            "temporal_documents_task_queue": f"{queue}-documents",
            "data_dir": tmp_path,
        }
    )
    run = uuid.uuid4().hex[:6]
    with Session(demo) as s:
        amsterdam = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        north = s.exec(select(Region).where(Region.name == "North")).one()
        template = s.exec(select(Template).where(Template.name == "Open day")).one()
        version = s.exec(
            select(TemplateVersion).where(TemplateVersion.template_id == template.id)
        ).one()
        version_id, north_id = version.id, north.id
        eligible, excluded = _contacts(demo, amsterdam, run)
        segment = Segment(
            brand_id=amsterdam.brand_id,
            partner_id=amsterdam.id or 0,
            name=f"Bulk {run}",
            filter={"tags_any": ["bulk"]},
        )
        s.add(segment)
        s.commit()
        segment_id = segment.id

    env = _worker_env(local, dev_env, queue, tmp_path)
    log = tmp_path / "worker.log"
    worker = _start(env, log)
    app = create_app(
        local,
        engine=demo,
        temporal=LazyTemporalClient(local, dev_env.client),
        blob_store=blob_store,
    )
    kills = 0
    try:
        async with app.router.lifespan_context(app):
            api = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
            now = datetime.now(UTC)
            created = await api.post(
                "/api/v1/campaigns",
                json={
                    "name": f"Open day {run}",
                    "template_version_id": version_id,
                    "target": {"regions": [north_id]},
                    "personalise_until": (now + timedelta(days=3)).isoformat(),
                    "send_by": (now + timedelta(days=10)).isoformat(),
                },
                headers=login("marketing@northwind.example"),
            )
            assert created.status_code == 201, created.text
            cid = created.json()["id"]
            launched = await api.post(
                f"/api/v1/campaigns/{cid}/launch", headers=login("marketing@northwind.example")
            )
            assert launched.status_code == 200, launched.text
            editor = login("editor.amsterdam@northwind.example")
            gm = login("gm.amsterdam@northwind.example")

            async def mine() -> dict:
                listed = await api.get(
                    f"/api/v1/partner-campaigns?campaign_id={cid}", headers=editor
                )
                return dict(listed.json()["items"][0])

            await _wait(lambda: _drafting(mine), "drafting", 60)
            pcid = (await mine())["id"]
            base = f"/api/v1/partner-campaigns/{pcid}"
            event_day = (now + timedelta(days=8)).date().isoformat()
            saved = await api.put(
                f"{base}/content",
                json={"values": {"headline": "Open day in Amsterdam", "event_date": event_day}},
                headers=editor,
            )
            assert saved.status_code == 200, saved.text
            submitted = await api.post(
                f"{base}/submit", json={"segment_id": segment_id}, headers=editor
            )
            assert submitted.status_code == 200, submitted.text
            read = (await api.get(base, headers=gm)).json()
            assert read["audience"]["eligible"] == len(eligible)
            approved = await api.post(f"{base}/decision", json={"decision": "approve"}, headers=gm)
            assert approved.status_code == 200, approved.text
            send_at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
            scheduled = await api.post(
                f"{base}/schedule", json={"send_at": send_at}, headers=editor
            )
            assert scheduled.status_code == 200, scheduled.text

            async def sent() -> int:
                return int((await api.get(f"{base}/delivery", headers=gm)).json()["counts"]["sent"])

            for threshold in KILL_AT:
                await _wait(lambda t=threshold: _at_least(sent, t), f"{threshold} sent", 240)
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=30)
                kills += 1
                worker = _start(env, log)

            async def finished() -> bool:
                return (await api.get(base, headers=gm)).json()["state"] in (
                    "sent",
                    "partially_sent",
                )

            await _wait(finished, "the send to finish", 420)
            state = (await api.get(base, headers=gm)).json()["state"]
            progress = (await api.get(f"{base}/delivery", headers=gm)).json()
            # Close the campaign before the worker stops: workflow ids are made of database
            # ids, and the next test's fresh database hands out the same ones.
            await api.post(
                f"/api/v1/campaigns/{cid}/cancel", headers=login("marketing@northwind.example")
            )
            campaign = dev_env.client.get_workflow_handle(f"campaign-{cid}")
            await asyncio.wait_for(campaign.result(), timeout=60)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()

    assert kills == 3
    assert state == "sent", progress
    assert progress["counts"]["sent"] == len(eligible)
    received = _outbox_recipients(tmp_path / "outbox")
    to_customers = {a: n for a, n in received.items() if a.endswith("@customers.example")}
    assert set(to_customers) == eligible, "a recipient is missing or an excluded one got mail"
    assert not set(to_customers) & excluded
    duplicates = sum(n - 1 for n in to_customers.values())
    assert duplicates <= kills, f"{duplicates} duplicates for {kills} kills"
    print(f"\n{len(eligible)} recipients, {kills} kills, {duplicates} duplicates")


async def _drafting(mine: Callable[[], object]) -> bool:
    row = mine()
    assert asyncio.iscoroutine(row)
    return (await row)["state"] == "drafting"


async def _at_least(sent: Callable[[], object], threshold: int) -> bool:
    count = sent()
    assert asyncio.iscoroutine(count)
    return int(await count) >= threshold
