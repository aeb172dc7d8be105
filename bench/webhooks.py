"""Webhooks: what capture adds to an audit append, and how fast attempts go out.

    python -m bench.webhooks [--events 1000] [--database-url URL]

1. Capture: appends of `partner_campaign.submit` (two webhook event types) one transaction
   each, with no endpoint (the baseline: one dict lookup and one SELECT) and with three
   subscribed endpoints (six event rows per append).
2. Delivery: the events of three endpoints attempted against a threaded receiver on
   127.0.0.1 (sign, SSRF check, POST, log row, event row), one after the other (one subject)
   and 20 at a time (20 subjects, as one workflow round does). The baseline is the same number
   of bare POSTs of the same size through one shared httpx client to the same receiver, with
   the same concurrency, in the same run: what the HTTP stack and receiver allow at best.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bench.audit_append import fresh_engine, new_brand
from core import audit_keys
from core.settings import AppEnv, Settings
from models.webhooks import WebhookEndpoint, WebhookEvent
from services import audit
from services.webhooks import delivery
from services.webhooks.capture import EVENT_TYPES
from services.webhooks.signing import new_secret


def appends(engine: Engine, brand_id: int, n: int, tag: str) -> float:
    started = time.perf_counter()
    for i in range(n):
        audit.append(
            lambda: Session(engine, expire_on_commit=False),
            audit.NewEvent(
                brand_id=brand_id,
                actor=audit.SYSTEM_ACTOR,
                action="partner_campaign.submit",
                entity_type="partner_campaign",
                entity_id=str(i % 50 + 1),
                event_key=f"bench-{tag}-{i}",
                before={"state": "drafting"},
                after={"state": "pending_approval", "next_stage": "gm"},
            ),
        )
    return time.perf_counter() - started


def bare_posts(url: str, count: int, workers: int) -> float:
    """Seconds for `count` plain POSTs of a typical payload, `workers` at a time."""
    body = json.dumps({"type": "partner_campaign.state_changed", "data": {"x": "y" * 400}})
    with httpx.Client() as client:

        def post(_: int) -> None:
            client.post(url, content=body, headers={"content-type": "application/json"})

        started = time.perf_counter()
        if workers == 1:
            for i in range(count):
                post(i)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(post, range(count)))
        return time.perf_counter() - started


def receiver() -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer.request_queue_size = 64
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hook"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    settings = Settings(
        app_env=AppEnv.test,
        _env_file=None,
        webhook_allow_http=True,
        webhook_allow_private_addresses=True,
    )
    audit_keys.install(audit_keys.AuditKeys.from_settings(settings))
    engine = fresh_engine(args.database_url)
    print(f"database: {engine.dialect.name}, {args.events} appends per case")
    bare = new_brand(engine)
    base = appends(engine, bare, args.events, "none")
    print(f"capture, no endpoint:   {base / args.events * 1000:.2f} ms per append")

    brand = new_brand(engine)
    server, url = receiver()
    with Session(engine) as s:
        for _ in range(3):
            s.add(
                WebhookEndpoint(
                    brand_id=brand, url=url, event_types=list(EVENT_TYPES), secret=new_secret()
                )
            )
        s.commit()
    with_three = appends(engine, brand, args.events, "three")
    print(
        f"capture, 3 endpoints:   {with_three / args.events * 1000:.2f} ms per append "
        f"({with_three / base:.2f}x the baseline; 6 event rows each)"
    )
    with Session(engine) as s:
        ids = [
            i
            for i in s.exec(
                select(WebhookEvent.id)
                .where(WebhookEvent.brand_id == brand)
                .order_by(col(WebhookEvent.id))
            ).all()
            if i is not None
        ]
    half = len(ids) // 2
    now = datetime.now(UTC)
    started = time.perf_counter()
    for event_id in ids[:half]:
        assert delivery.attempt(engine, settings, event_id, now).outcome == "delivered"
    one = time.perf_counter() - started
    bare_one = bare_posts(url, half, 1)
    print(
        f"delivery, one subject:  {half / one:.0f} events/s ({one / half * 1000:.2f} ms each); "
        f"bare POSTs {half / bare_one:.0f}/s, ratio {bare_one / one:.2f}"
    )
    started = time.perf_counter()
    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(lambda i: delivery.attempt(engine, settings, i, now), ids[half:]))
    many = time.perf_counter() - started
    done = sum(o.outcome == "delivered" for o in outcomes)
    bare_many = bare_posts(url, len(outcomes), 20)
    print(
        f"delivery, 20 at a time: {len(outcomes) / many:.0f} events/s ({done} delivered); "
        f"bare POSTs {len(outcomes) / bare_many:.0f}/s, ratio {bare_many / many:.2f}"
    )
    server.shutdown()


if __name__ == "__main__":
    main()
