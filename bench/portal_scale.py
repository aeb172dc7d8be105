"""Portal and API reads at scale: every list and page route, as HQ and as a partner, on
PostgreSQL with 10,000 partners, 100 campaigns and 2 million delivery rows.

    python -m bench.portal_scale --database-url postgresql://postgres@127.0.0.1:5432/brandrelay_scale
    python -m bench.portal_scale --database-url ... --reuse   # time again on the seeded data

Without --reuse the database's public schema is dropped and recreated, migrated and seeded:
the demo (organisation, assets, contacts, approval policies), then scripts.bulk.network
(10,000 partners with an editor and a GM each, 200 contacts each: 2 million contacts) and
scripts.bulk.activity (100 campaigns, about 250,000 partner campaigns with their open tasks,
the big send's 2 million ledger rows, outbox rows, partner assets, chained audit events).
The load ends with VACUUM (ANALYZE), as autovacuum would have run by the time anyone reads
(index-only scans need the visibility map). With --reuse the seeded data is used as it is
(seeded first when missing).

Then each route is requested `--requests` times in turn through the ASGI app (httpx
ASGITransport, no server, no Temporal: reads never need it), cycling through its pages (the
first; the second through the first's next_cursor; a deep offset, at most the 10,000 the
lists still accept), as HQ (admin@) and as a
partner (editor. and gm.scale-00001@). Prints p50 and p95 per route against the goal (p95 <
300 ms); asserts nothing. Seeding and timing are reported separately.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

import models  # noqa: F401 - registers the tables
from api.app import create_app
from api.portal import session as cookies
from core import audit_keys
from core.db import make_engine
from core.security import hash_password, issue_access_token
from core.settings import AppEnv, Settings
from core.temporal import LazyTemporalClient
from models.campaigns import Campaign, PartnerCampaign
from models.org import Partner, User
from scripts.bulk.activity import seed_activity
from scripts.bulk.network import seed_network
from scripts.demo.approvals import seed_demo_approvals
from scripts.demo.assets import seed_demo_assets
from scripts.demo.contacts import seed_demo_contacts
from scripts.demo.organisation import DEMO_PASSWORD, seed_demo
from scripts.migrate import upgrade
from storage.local import LocalBlobStore

GOAL_P95_MS = 300.0
MIN_REQUESTS = 5
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/brandrelay_scale"
HQ = "admin@northwind.example"
EDITOR = "editor.scale-00001@northwind.example"
GM = "gm.scale-00001@northwind.example"


@dataclass(frozen=True)
class Route:
    who: str  # "hq", "editor" or "gm"
    kind: str  # "api" or "portal"
    label: str
    paths: tuple[str, ...]  # cycled through: the pages asked for


def _settings(data_dir: Path, url: str) -> Settings:
    return Settings(  # the process environment only, as the tests do
        _env_file=None,
        app_env=AppEnv.test,
        log_level="WARNING",
        data_dir=data_dir,
        database_url=url,
    )


def _seeded(engine: Engine) -> bool:
    with Session(engine) as s:
        try:
            found = s.exec(select(Campaign.id).where(Campaign.name == "Scale campaign 001"))
            return found.first() is not None
        except Exception:  # no tables yet
            return False


def seed(
    engine: Engine, store: LocalBlobStore, partners: int, contacts: int, campaigns: int
) -> list[tuple[str, float]]:
    steps: list[tuple[str, float]] = []
    t = time.perf_counter()
    password_hash = hash_password(DEMO_PASSWORD)
    with Session(engine) as s:
        seed_demo(s, password_hash)
        s.flush()
        seed_demo_assets(s, store)
        seed_demo_contacts(s)
        seed_demo_approvals(s)
        s.commit()
    steps.append(("demo seed", time.perf_counter() - t))
    t = time.perf_counter()
    with Session(engine) as s:
        net = seed_network(s, partners, contacts, password_hash=password_hash)
        s.commit()
    steps.append(
        (
            f"network: {net.partners_added:,} partners, {net.users_added:,} users,"
            f" {net.contacts_added:,} contacts",
            time.perf_counter() - t,
        )
    )
    t = time.perf_counter()
    with Session(engine) as s:
        act = seed_activity(s, campaigns=campaigns)
        s.commit()
    steps.append(
        (
            f"activity: {act.campaigns} campaigns, {act.partner_campaigns:,} partner campaigns,"
            f" {act.tasks:,} tasks, {act.deliveries:,} deliveries, {act.outbox:,} outbox,"
            f" {act.assets:,} assets, {act.audit_events:,} audit events",
            time.perf_counter() - t,
        )
    )
    return steps


def _ids(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:

        def user(email: str) -> int:
            found = s.exec(select(User.id).where(User.email == email)).one()
            assert found is not None
            return found

        big = s.exec(select(Campaign.id).where(Campaign.name == "Scale campaign 001")).one()
        running = s.exec(select(Campaign.id).where(Campaign.name == "Scale campaign 002")).one()
        partner = s.exec(select(Partner.id).where(Partner.slug == "scale-00001")).one()
        assert big is not None and running is not None and partner is not None
        own = s.exec(
            select(PartnerCampaign.id).where(
                PartnerCampaign.campaign_id == big, PartnerCampaign.partner_id == partner
            )
        ).one()
        pending = s.exec(
            select(PartnerCampaign.id)
            .where(PartnerCampaign.partner_id == partner, PartnerCampaign.campaign_id != big)
            .order_by(col(PartnerCampaign.id))
        ).first()
        last_pc = s.exec(
            select(PartnerCampaign.id)
            .where(PartnerCampaign.campaign_id == big)
            .order_by(col(PartnerCampaign.id).desc())
        ).first()
        counts = {
            name: int(s.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())
            for name in ("partner", "campaign", "partnercampaign", "delivery", "contact")
        }
        return {
            "hq": user(HQ),
            "editor": user(EDITOR),
            "gm": user(GM),
            "big": big,
            "running": running,
            "partner": partner,
            "own_pc": own or 0,
            "open_pc": pending or own or 0,
            "mid_pc": ((own or 0) + (last_pc or 0)) // 2,
            **{f"n_{k}": v for k, v in counts.items()},
        }


def routes(ids: dict[str, int]) -> list[Route]:
    big, running, pid = ids["big"], ids["running"], ids["partner"]
    return [
        # HQ, API
        Route("hq", "api", "campaigns", ("/api/v1/campaigns", "/api/v1/campaigns?offset=50")),
        Route("hq", "api", "campaign (big, counts)", (f"/api/v1/campaigns/{big}",)),
        Route(
            "hq",
            "api",
            "partner campaigns of the big one",
            (
                f"/api/v1/partner-campaigns?campaign_id={big}&limit=200",
                f"/api/v1/partner-campaigns?campaign_id={big}&limit=200&offset=5000",
                f"/api/v1/partner-campaigns?campaign_id={big}&limit=200&offset=9800",
            ),
        ),
        Route(
            "hq",
            "api",
            "partner campaigns (all)",
            (
                "/api/v1/partner-campaigns",
                "/api/v1/partner-campaigns?{next}",
                "/api/v1/partner-campaigns?offset=10000",
            ),
        ),
        Route(
            "hq",
            "api",
            "delivery of a partner campaign",
            (f"/api/v1/partner-campaigns/{ids['mid_pc']}/delivery",),
        ),
        Route("hq", "api", "tasks", ("/api/v1/tasks", "/api/v1/tasks?offset=1000")),
        Route(
            "hq",
            "api",
            "assets",
            ("/api/v1/assets", "/api/v1/assets?{next}", "/api/v1/assets?offset=5000"),
        ),
        Route(
            "hq",
            "api",
            "audit",
            ("/api/v1/audit", "/api/v1/audit?{next}", "/api/v1/audit?offset=10000"),
        ),
        Route(
            "hq",
            "api",
            "outbox",
            ("/api/v1/outbox", "/api/v1/outbox?{next}", "/api/v1/outbox?offset=10000"),
        ),
        Route(
            "hq",
            "api",
            "partners",
            ("/api/v1/partners", "/api/v1/partners?offset=9950"),
        ),
        Route("hq", "api", "regions", ("/api/v1/regions",)),
        Route(
            "hq",
            "api",
            "users",
            ("/api/v1/users", "/api/v1/users?{next}", "/api/v1/users?offset=10000"),
        ),
        Route(
            "hq",
            "api",
            "memberships",
            (
                "/api/v1/memberships",
                "/api/v1/memberships?{next}",
                "/api/v1/memberships?offset=10000",
            ),
        ),
        Route(
            "hq",
            "api",
            "suppressions",
            (
                "/api/v1/suppressions",
                "/api/v1/suppressions?{next}",
                "/api/v1/suppressions?offset=10000",
            ),
        ),
        Route("hq", "api", "contacts summary", (f"/api/v1/partners/{pid}/contacts/summary",)),
        # HQ, portal
        Route("hq", "portal", "/campaigns", ("/campaigns",)),
        Route(
            "hq",
            "portal",
            "/campaigns/{big}",
            (f"/campaigns/{big}", f"/campaigns/{big}?sort=-updated_at"),
        ),
        Route("hq", "portal", "/campaigns/{running}", (f"/campaigns/{running}",)),
        Route("hq", "portal", "/campaigns/new", ("/campaigns/new",)),
        Route("hq", "portal", "/inbox", ("/inbox",)),
        Route("hq", "portal", "/assets", ("/assets",)),
        Route("hq", "portal", "/audit", ("/audit",)),
        Route("hq", "portal", "/outbox", ("/outbox",)),
        # partner, API
        Route("editor", "api", "partner campaigns (own)", ("/api/v1/partner-campaigns",)),
        Route("editor", "api", "tasks (own)", ("/api/v1/tasks",)),
        Route(
            "editor",
            "api",
            "contacts (own)",
            (f"/api/v1/partners/{pid}/contacts", f"/api/v1/partners/{pid}/contacts?offset=150"),
        ),
        Route(
            "editor", "api", "contacts summary (own)", (f"/api/v1/partners/{pid}/contacts/summary",)
        ),
        Route("editor", "api", "assets (own view)", ("/api/v1/assets",)),
        Route("gm", "api", "audit (own, GM)", ("/api/v1/audit",)),
        Route(
            "editor",
            "api",
            "delivery (own)",
            (f"/api/v1/partner-campaigns/{ids['own_pc']}/delivery",),
        ),
        # partner, portal
        Route("editor", "portal", "/my-campaigns", ("/my-campaigns",)),
        Route("gm", "portal", "/inbox (GM)", ("/inbox",)),
        Route(
            "editor",
            "portal",
            "/partner-campaigns/{id}",
            (f"/partner-campaigns/{ids['open_pc']}",),
        ),
        Route(
            "editor",
            "portal",
            "/partner-campaigns/{id}/progress",
            (f"/partner-campaigns/{ids['own_pc']}/progress",),
        ),
        Route("editor", "portal", "/assets (partner)", ("/assets",)),
        Route("gm", "portal", "/audit (partner GM)", ("/audit",)),
    ]


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def time_routes(
    settings: Settings,
    engine: Engine,
    store: LocalBlobStore,
    ids: dict[str, int],
    n: int,
    budget_s: float,
) -> list[tuple[Route, list[float], dict[int, int]]]:
    app = create_app(
        settings,
        engine=engine,
        temporal=LazyTemporalClient(settings),
        blob_store=store,
        checkpoint_store=store,
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(_Shortened())
    secret = settings.secret_key.get_secret_value()
    auth: dict[tuple[str, str], dict[str, str]] = {}
    for who in ("hq", "editor", "gm"):
        uid = ids[who]
        token = issue_access_token(secret, uid, settings.access_token_ttl, generation=0)
        auth[(who, "api")] = {"Authorization": f"Bearer {token}"}
        cookie = cookies.encode(settings, cookies.new_session(settings, uid))
        auth[(who, "portal")] = {"Cookie": f"{cookies.COOKIE}={cookie}"}
    results: list[tuple[Route, list[float], dict[int, int]]] = []
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=600
        ) as client,
    ):
        for route in routes(ids):
            headers = auth[(route.who, route.kind)]
            first = await client.get(route.paths[0], headers=headers)  # warm up (imports)
            paths = [_later(p, first) for p in route.paths]
            times: list[float] = []
            statuses: dict[int, int] = {}
            for i in range(n):
                if i >= MIN_REQUESTS and sum(times) > budget_s * 1000:
                    break  # a route taking seconds per request: fewer samples, said below
                path = paths[i % len(paths)]
                t = time.perf_counter()
                response = await client.get(path, headers=headers)
                times.append((time.perf_counter() - t) * 1000)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            results.append((route, times, statuses))
            p50, p95 = statistics.median(times), percentile(times, 95)
            print(
                f"  {route.who:<6} {route.kind:<6} {route.label:<36} p50 {p50:8.1f}"
                f"  p95 {p95:8.1f} ms  {_status(statuses)}{'' if p95 < GOAL_P95_MS else '  SLOW'}"
                f"{'' if len(times) == n else f' (stopped after {len(times)} requests)'}",
                flush=True,
            )
    return results


class _Shortened(logging.Filter):
    """The app logs a failed query with its SQL: with 100,000 parameters that is megabytes."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if len(text) > 500:
            record.msg, record.args = text[:500] + " ...", None
        return True


def _later(path: str, first: httpx.Response) -> str:
    """`{next}` in a path: the first page's next_cursor (keyset paging), so a later page is
    timed as clients reach it."""
    if "{next}" not in path:
        return path
    cursor = first.json().get("next_cursor") if first.status_code == 200 else None
    return path.replace("{next}", f"cursor={cursor}" if cursor else "")


def _status(statuses: dict[int, int]) -> str:
    return ", ".join(f"{n}x{code}" for code, n in sorted(statuses.items()))


def run(args: argparse.Namespace) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="brandrelay-portal-scale-"))
    settings = _settings(data_dir, args.database_url)
    audit_keys.install(audit_keys.AuditKeys.from_settings(settings))
    engine = make_engine(settings.resolved_database_url)
    if engine.dialect.name != "postgresql":
        print("this benchmark runs on PostgreSQL (--database-url postgresql://...)")
        return 2
    store = LocalBlobStore(
        data_dir / "assets", settings.secret_key.get_secret_value(), "http://bench"
    )
    started = time.perf_counter()
    if not args.reuse or not _seeded(engine):
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        with engine.begin() as conn:
            upgrade(conn)
        print(f"{'migrate':<28} {time.perf_counter() - started:.1f} s", flush=True)
        for label, seconds in seed(
            engine, store, args.partners, args.contacts_per_partner, args.campaigns
        ):
            print(f"{'seed':<28} {seconds:6.1f} s  {label}", flush=True)
        t = time.perf_counter()
        with engine.connect() as conn:  # as autovacuum would have done by the time HQ looks
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM (ANALYZE)"))
        print(f"{'vacuum (analyze)':<28} {time.perf_counter() - t:6.1f} s", flush=True)
    else:
        print(f"{'seed':<28} reused the seeded database")
    print(f"{'set-up total':<28} {time.perf_counter() - started:.1f} s", flush=True)
    ids = _ids(engine)
    print(
        f"{'data':<28} {ids['n_partner']:,} partners, {ids['n_campaign']:,} campaigns,"
        f" {ids['n_partnercampaign']:,} partner campaigns, {ids['n_delivery']:,} deliveries,"
        f" {ids['n_contact']:,} contacts"
    )
    print(
        f"{'requests per route':<28} {args.requests} (cycling through the route's pages; at"
        f" least {MIN_REQUESTS} when a route takes over {args.route_budget:.0f} s)"
    )
    t = time.perf_counter()
    results = asyncio.run(
        time_routes(settings, engine, store, ids, args.requests, args.route_budget)
    )
    slow = [r for r, times, _ in results if percentile(times, 95) >= GOAL_P95_MS]
    print(f"{'timing total':<28} {time.perf_counter() - t:.1f} s")
    print(
        f"{'goal':<28} p95 < {GOAL_P95_MS:.0f} ms per route: {len(results) - len(slow)} of"
        f" {len(results)} met" + (f"; slow: {', '.join(r.label for r in slow)}" if slow else "")
    )
    engine.dispose()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"default: {DEFAULT_URL}")
    parser.add_argument(
        "--reuse", action="store_true", help="time the seeded database as it is (seed if empty)"
    )
    parser.add_argument("--partners", type=int, default=10_000)
    parser.add_argument("--contacts-per-partner", type=int, default=200)
    parser.add_argument("--campaigns", type=int, default=100)
    parser.add_argument("--requests", type=int, default=30, help="per route")
    parser.add_argument(
        "--route-budget",
        type=float,
        default=20.0,
        help=f"seconds per route: a slower route stops after at least {MIN_REQUESTS} requests",
    )
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
