"""Claims fixtures: Amsterdam's co-op fund, a sent partner campaign whose spend is booked in
the fund's ledger, and the API with a worker on the time-skipping server."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from domain.money import LedgerKind
from domain.states import DeliveryStatus
from models.delivery import Delivery
from models.funds import Fund
from models.org import Partner
from registry import queues
from services.funds.ledger import Movement, post, share_of
from storage.local import LocalBlobStore
from tests.delivery.test_delivery import good_values, open_day_row

EMAIL_SENT, EMAIL_FAILED, EMAIL_SUPPRESSED = 120, 2, 1
EMAIL_UNIT = 5  # 0.05 per message
SMS_SENT, SMS_SEGMENTS, SMS_UNIT = 4, 7, 9  # 7 segments at 0.09


@dataclass(frozen=True)
class Booked:
    fund_id: int
    pc_id: int
    partner_id: int


def partner(engine: Engine, slug: str = "amsterdam") -> Partner:
    with Session(engine) as s:
        found = s.exec(select(Partner).where(Partner.slug == slug)).one()
        s.expunge(found)
        return found


def make_fund(
    engine: Engine,
    slug: str = "amsterdam",
    *,
    allocated: int = 100_000,
    eligible: tuple[str, ...] = ("email", "sms", "print"),
    ends_on: date | None = None,
    window_days: int = 60,
) -> int:
    p = partner(engine, slug)
    today = datetime.now(UTC).date()
    with Session(engine) as s:
        fund = Fund(
            brand_id=p.brand_id,
            region_id=p.region_id,
            partner_id=p.id or 0,
            period=f"T{uuid.uuid4().hex[:6]}",
            starts_on=today - timedelta(days=30),
            ends_on=ends_on or today + timedelta(days=30),
            currency="EUR",
            coop_share_bp=5000,
            eligible_channels=list(eligible),
            claim_window_days=window_days,
        )
        s.add(fund)
        s.flush()
        post(s, fund, Movement(LedgerKind.allocation, allocated, "alloc", "system"))
        s.commit()
        assert fund.id is not None
        return fund.id


def book_spend(
    engine: Engine, fund_id: int, pc_id: int, channel: str, qty: int, gross: int
) -> None:
    with Session(engine) as s:
        fund = s.get(Fund, fund_id)
        assert fund is not None
        post(
            s,
            fund,
            Movement(
                LedgerKind.spend,
                -share_of(gross, fund.coop_share_bp),
                f"spend-pc-{pc_id}-{channel}",
                "system",
                gross_minor=gross,
                channel=channel,
                quantity=qty,
                partner_campaign_id=pc_id,
            ),
        )
        s.commit()


def add_deliveries(engine: Engine, pc_id: int, channel: str, status: str, n: int) -> None:
    with Session(engine) as s:
        p = partner(engine)
        now = datetime.now(UTC)
        for i in range(n):
            s.add(
                Delivery(
                    partner_campaign_id=pc_id,
                    brand_id=p.brand_id,
                    partner_id=p.id or 0,
                    email=f"c{i}@customers.example" if channel == "email" else "",
                    phone=f"+3161234{i:04d}" if channel == "sms" else "",
                    channel=channel,
                    status=DeliveryStatus(status),
                    message_id=f"<pc{pc_id}-{channel}-{i}@brandrelay.test>",
                    sent_at=now if status == "sent" else None,
                )
            )
        s.commit()


def sent_campaign(engine: Engine, **fund: object) -> Booked:
    """Amsterdam's "Open day" sent: 120 emails (+2 failed, 1 suppressed) and 4 SMS in 7
    segments, booked against a fund of 1,000.00 at 50 %."""
    fund_id = make_fund(engine, **fund)  # type: ignore[arg-type]
    pc_id = open_day_row(engine, good_values(), None, state="sent")
    add_deliveries(engine, pc_id, "email", "sent", EMAIL_SENT)
    add_deliveries(engine, pc_id, "email", "failed", EMAIL_FAILED)
    add_deliveries(engine, pc_id, "email", "suppressed", EMAIL_SUPPRESSED)
    add_deliveries(engine, pc_id, "sms", "sent", SMS_SENT)
    book_spend(engine, fund_id, pc_id, "email", EMAIL_SENT, EMAIL_SENT * EMAIL_UNIT)
    book_spend(engine, fund_id, pc_id, "sms", SMS_SEGMENTS, SMS_SEGMENTS * SMS_UNIT)
    return Booked(fund_id, pc_id, partner(engine).id or 0)


@pytest.fixture
def portal(settings: Settings, demo: Engine, blob_store: LocalBlobStore) -> Iterator[TestClient]:
    """A browser-like client: https (the session cookie is Secure outside dev)."""
    app = create_app(
        settings, engine=demo, temporal=LazyTemporalClient(settings), blob_store=blob_store
    )
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


@dataclass
class Running:
    api: httpx.AsyncClient
    env: WorkflowEnvironment
    queue: str


@pytest.fixture
async def running(
    settings: Settings,
    demo: Engine,
    workflow_env: WorkflowEnvironment,
    blob_store: LocalBlobStore,
    checkpoint_store: LocalBlobStore,
) -> AsyncIterator[Running]:
    """As conftest's app_with_worker, telling the test its task queue (claims are started
    from the test as the activity would)."""
    queue = f"test-{uuid.uuid4().hex[:10]}"
    local = settings.model_copy(
        update={
            "temporal_task_queue": queue,
            "temporal_delivery_task_queue": f"{queue}-delivery",
            "temporal_documents_task_queue": f"{queue}-documents",
        }
    )
    with ThreadPoolExecutor(8) as pool:
        async with contextlib.AsyncExitStack() as stack:
            for spec in queues(local, demo, checkpoint_store=checkpoint_store):
                if spec.empty:
                    continue
                worker = Worker(
                    workflow_env.client,
                    task_queue=spec.task_queue,
                    workflows=spec.workflows,
                    activities=spec.activities,
                    activity_executor=pool,
                )
                await stack.enter_async_context(worker)
            app = create_app(
                local,
                engine=demo,
                temporal=LazyTemporalClient(local, workflow_env.client),
                blob_store=blob_store,
                checkpoint_store=checkpoint_store,
            )
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="https://test") as c:
                    yield Running(c, workflow_env, queue)
