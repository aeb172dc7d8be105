"""The print vendor simulator as a subprocess for the session (as `make up` runs it), a
callback receiver, and the simulator's faults reset after each test."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from api.app import create_app
from core.settings import PROJECT_ROOT, Settings
from core.temporal import LazyTemporalClient
from domain.money import ChainSubject, LedgerKind
from domain.states import CampaignState, PartnerCampaignState
from models.campaigns import Campaign, PartnerCampaign
from models.funds import Fund
from models.org import Partner, User
from models.print_order_io import ClaimStart
from models.print_orders import PrintOrder
from models.templates import Template, TemplateVersion
from registry import queues
from services.approvals import chain_tasks
from services.funds import ledger
from storage.local import LocalBlobStore

SIM_STEP_SECONDS = "0.3"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def simulator_url(settings: Settings) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "test",
        "PRINT_VENDOR_SECRET": settings.print_vendor_secret.get_secret_value(),
        "PRINT_SIM_STEP_SECONDS": SIM_STEP_SECONDS,
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "printing.simulator:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=PROJECT_ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{url}/v1/products", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if proc.poll() is not None:
                    pytest.fail("the print vendor simulator did not start")
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def simulator(simulator_url: str) -> Iterator[str]:
    """The simulator's URL, its faults switched off again after the test."""
    yield simulator_url
    httpx.put(f"{simulator_url}/v1/_sim/faults", json={}, timeout=5).raise_for_status()


def set_faults(url: str, **faults: object) -> None:
    httpx.put(f"{url}/v1/_sim/faults", json=faults, timeout=5).raise_for_status()


def vendor_orders(url: str, reference: str) -> list[dict[str, object]]:
    orders = httpx.get(f"{url}/v1/orders", timeout=5).json()["orders"]
    return [o for o in orders if o["reference"] == reference]


@dataclass
class Received:
    """Callbacks as they arrived: (headers, body)."""

    url: str
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200

    def wait_for(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.posts) >= count, f"{len(self.posts)} callbacks, expected {count}"


@pytest.fixture
def receiver() -> Iterator[Received]:
    """A plain HTTP server recording what the simulator POSTs."""
    received = Received(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(received.status)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    received.url = f"http://127.0.0.1:{server.server_address[1]}/callbacks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received
    server.shutdown()
    server.server_close()


# A flyer campaign to order copies of, and the whole stack around it ----------------------


def event_day() -> str:
    return (datetime.now(UTC) + timedelta(days=20)).date().isoformat()


def flyer_pc(
    engine: Engine,
    slug: str = "amsterdam",
    *,
    state: str = "approved",
    values: dict[str, Any] | None = None,
    template: str = "Open day flyer (A5)",
) -> int:
    """A partner campaign of the demo's A5 flyer (no workflow of its own), in `state`."""
    now = datetime.now(UTC)
    with Session(engine) as s:
        version = s.exec(
            select(TemplateVersion)
            .join(Template, col(Template.id) == col(TemplateVersion.template_id))
            .where(Template.name == template)
        ).first()
        assert version is not None and version.id is not None
        partner = s.exec(select(Partner).where(Partner.slug == slug)).one()
        author = s.exec(
            select(User).where(User.brand_id == partner.brand_id, User.email.startswith("admin@"))
        ).one()
        campaign = Campaign(
            brand_id=partner.brand_id,
            name="Open day flyers",
            template_version_id=version.id,
            personalise_until=now + timedelta(days=3),
            send_by=now + timedelta(days=10),
            created_by=author.id or 0,
            state=CampaignState.running,
        )
        s.add(campaign)
        s.flush()
        row = PartnerCampaign(
            campaign_id=campaign.id or 0,
            brand_id=partner.brand_id,
            region_id=partner.region_id,
            partner_id=partner.id or 0,
            state=PartnerCampaignState(state),
            values=values if values is not None else {"event_date": event_day()},
            workflow_id=f"partner-campaign-flyer-{uuid.uuid4().hex[:8]}",
        )
        s.add(row)
        s.commit()
        assert row.id is not None
        return row.id


def order_body(pc_id: int, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "partner_campaign_id": pc_id,
        "format": "A5",
        "quantity": 500,
        "recipient_name": "Northwind Amsterdam",
        "street": "Damrak 1",
        "postal_code": "1012 LG",
        "city": "Amsterdam",
        "country": "NL",
        "wanted_by": (datetime.now(UTC) + timedelta(days=14)).date().isoformat(),
    }
    body.update(changes)
    return body


def fund_for(engine: Engine, slug: str, allocated: int, share_bp: int = 5000) -> int:
    """A quarter's co-op fund with print eligible, allocated through the ledger."""
    today = datetime.now(UTC).date()
    with Session(engine) as s:
        partner = s.exec(select(Partner).where(Partner.slug == slug)).one()
        fund = Fund(
            brand_id=partner.brand_id,
            region_id=partner.region_id,
            partner_id=partner.id or 0,
            period="test",
            starts_on=today - timedelta(days=30),
            ends_on=today + timedelta(days=60),
            currency="EUR",
            coop_share_bp=share_bp,
            eligible_channels=["email", "print"],
        )
        s.add(fund)
        s.flush()
        ledger.post(
            s,
            fund,
            ledger.Movement(
                kind=LedgerKind.allocation, amount_minor=allocated, key="alloc", actor="system"
            ),
        )
        s.commit()
        assert fund.id is not None
        return fund.id


def order_row(engine: Engine, pc_id: int, **fields: Any) -> int:
    """An order row of the partner campaign without a workflow (state quoted by default)."""
    with Session(engine) as s:
        pc = s.get(PartnerCampaign, pc_id)
        editor = s.exec(
            select(User).where(User.email == "editor.amsterdam@northwind.example")
        ).one()
        assert pc is not None
        values: dict[str, Any] = {
            "brand_id": pc.brand_id,
            "region_id": pc.region_id,
            "partner_id": pc.partner_id,
            "partner_campaign_id": pc_id,
            "format": "A5",
            "quantity": 500,
            "recipient_name": "<script>alert('name')</script>",
            "street": "Damrak 1",
            "postal_code": "1012 LG",
            "city": "Amsterdam",
            "country": "NL",
            "wanted_by": (datetime.now(UTC) + timedelta(days=9)).date(),
            "currency": "EUR",
            "quote_minor": 9500,
            "vendor": "simulator",
            "vendor_key": f"brandrelay-po-x-{pc_id}",
            "ordered_by": editor.id or 0,
        }
        order = PrintOrder(**{**values, **fields})
        s.add(order)
        s.commit()
        assert order.id is not None
        return order.id


def activity_name(fn: Callable[..., Any]) -> str:
    definition = getattr(fn, "__temporal_activity_definition", None)
    return str(getattr(definition, "name", ""))


@dataclass
class Stack:
    """The API over real HTTP (the simulator calls it back), workers, the simulator."""

    http: httpx.AsyncClient
    settings: Settings
    client: Client
    claims: list[int]
    simulator: str


def stack_settings(settings: Settings, simulator: str, port: int) -> Settings:
    queue = f"test-po-{uuid.uuid4().hex[:10]}"
    return settings.model_copy(
        update={
            "temporal_task_queue": queue,
            "temporal_delivery_task_queue": f"{queue}-delivery",
            "temporal_documents_task_queue": f"{queue}-documents",
            "print_vendor_url": simulator,
            "print_vendor_timeout": 5.0,
            "public_base_url": f"http://127.0.0.1:{port}",
        }
    )


@contextlib.asynccontextmanager
async def running_stack(
    client: Client,
    settings: Settings,
    engine: Engine,
    checkpoint_store: LocalBlobStore,
    blob_store: LocalBlobStore,
    simulator: str,
    *,
    workers: bool = True,
    real_claims: bool = False,
) -> AsyncIterator[Stack]:
    """With `real_claims` the real `start_claim` runs (the co-op story), else a
    stand-in records the calls in `Stack.claims`."""
    port = free_port()
    local = stack_settings(settings, simulator, port)
    claims: list[int] = []

    @activity.defn(name="start_claim")
    async def start_claim(start: ClaimStart) -> None:
        """Stands in for the claims' activity: records what it was asked."""
        assert start.print_order_id is not None
        claims.append(start.print_order_id)

    async with contextlib.AsyncExitStack() as running:
        pool = running.enter_context(ThreadPoolExecutor(8))
        if workers:
            for spec in queues(local, engine, checkpoint_store=checkpoint_store):
                if spec.empty:
                    continue
                # The real `start_claim` gives way to the
                # stand-in: these tests check the call, the claims tests the claim.
                registered = [
                    a for a in spec.activities if real_claims or activity_name(a) != "start_claim"
                ]
                orchestration = spec.task_queue == local.temporal_task_queue
                extra = [start_claim] if orchestration and not real_claims else []
                worker = Worker(
                    client,
                    task_queue=spec.task_queue,
                    workflows=spec.workflows,
                    activities=[*registered, *extra],
                    activity_executor=pool,
                )
                await running.enter_async_context(worker)
        app = create_app(
            local,
            engine=engine,
            temporal=LazyTemporalClient(local, client),
            blob_store=blob_store,
            checkpoint_store=checkpoint_store,
        )
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        try:
            async with httpx.AsyncClient(base_url=local.public_base_url, timeout=30) as http:
                yield Stack(http, local, client, claims, simulator)
        finally:
            server.should_exit = True
            await task


async def wait_for_state(
    engine: Engine, order_id: int, states: set[str], seconds: float = 60
) -> PrintOrder:
    for _ in range(int(seconds * 10)):
        with Session(engine) as s:
            order = s.get(PrintOrder, order_id)
            if order is not None and order.state.value in states:
                return order
        await asyncio.sleep(0.1)
    with Session(engine) as s:
        order = s.get(PrintOrder, order_id)
    raise AssertionError(f"order {order_id} never reached {states}: {order}")


async def wait_for_approval(engine: Engine, order_id: int, seconds: float = 60) -> None:
    """Until the order waits for a decision and the chain has projected its open task."""
    await wait_for_state(engine, order_id, {"pending_approval"}, seconds)
    for _ in range(int(seconds * 10)):
        with Session(engine) as s:
            if chain_tasks.open_task(s, ChainSubject.print_order, order_id) is not None:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"order {order_id} has no open approval task")


async def save_history(
    request: pytest.FixtureRequest, client: Client, workflow_id: str, name: str
) -> None:
    """With --record-histories: the finished workflow's history as tests/histories/<name>.json
    for the replay test (only for intended workflow changes)."""
    if not request.config.getoption("--record-histories"):
        return
    handle = client.get_workflow_handle(workflow_id)
    await handle.result()
    history = await handle.fetch_history()
    (PROJECT_ROOT / "tests" / "histories" / f"{name}.json").write_text(history.to_json())
