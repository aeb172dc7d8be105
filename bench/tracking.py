"""Tracked-link redirect latency: the event queued for the batch writer against written in the
request.

    python -m bench.tracking [--requests 2000] [--threads 8] [--database-url URL]

Runs the API in-process (FastAPI's TestClient, no network) on a fresh SQLite file (or the
PostgreSQL database given, whose name must contain "test") with one delivery row, and times
GET /r/{delivery}/{mac}?u=... from `--threads` threads at once, twice:

- queued: the product path; the route hands the event to the app's EventWriter and answers.
- direct: the same route with no writer thread running, so each request writes its own event
  in its own transaction before answering (what the route would cost without the queue).

Prints p50/p95/max per request, requests/s, and for "queued" how many transactions the writer
needed for all events. Every click is a distinct event (its own URL), so both modes write the
same rows.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, text
from sqlmodel import Session, select

from api.app import create_app
from core.db import make_engine
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.delivery import DeliveryEvent
from scripts.migrate import upgrade
from services.engagement import tracking

DELIVERY = 1


def prepare(url: str) -> Engine:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        if "test" not in (engine.url.database or ""):
            raise SystemExit("refusing a PostgreSQL database whose name lacks 'test'")
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    with engine.begin() as conn:
        upgrade(conn)
    with engine.begin() as conn:  # one delivery row; the bench needs nothing around it
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        else:
            conn.exec_driver_sql("SET session_replication_role = replica")
        conn.execute(
            text(
                "INSERT INTO delivery (id, partner_campaign_id, brand_id, partner_id, email, "
                "status, attempts, permanent, created_at, updated_at) VALUES "
                "(:id, 1, 1, 1, 'bench@example.com', 'sent', 1, false, :now, :now)"
            ),
            {"id": DELIVERY, "now": "2026-12-03 00:00:00"},
        )
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        else:
            conn.exec_driver_sql("SET session_replication_role = DEFAULT")
    return engine


def run(client: TestClient, settings: Settings, tag: str, n: int, threads: int) -> list[float]:
    base = settings.public_base_url.rstrip("/")
    paths = [
        tracking.click_url(settings, DELIVERY, f"https://club.example/{tag}/{i}").removeprefix(base)
        for i in range(n)
    ]
    times: list[float] = []
    lock = threading.Lock()

    def worker(mine: list[str]) -> None:
        local: list[float] = []
        for path in mine:
            start = time.perf_counter()
            resp = client.get(path, follow_redirects=False)
            local.append(time.perf_counter() - start)
            assert resp.status_code == 302, resp.text
        with lock:
            times.extend(local)

    pool = [threading.Thread(target=worker, args=(paths[i::threads],)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return times


def report(name: str, times: list[float], wall: float, extra: str = "") -> None:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[int(len(ms) * 0.95) - 1]
    print(
        f"{name:7s} {len(ms)} requests: p50 {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms, "
        f"max {ms[-1]:.2f} ms, {len(ms) / wall:.0f} requests/s{extra}",
        flush=True,
    )


def count(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(DeliveryEvent)).one())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = Settings(database_url=url, data_dir=Path(tmp), log_level="WARNING")
        engine = prepare(url)
        app: Any = create_app(settings, engine=engine, temporal=LazyTemporalClient(settings))
        with TestClient(app) as client:
            writer = app.state.event_writer
            run(client, settings, "warm", 50, 1)
            writer.stop()
            before, batches = count(engine), writer.batches_written
            writer.start()
            start = time.perf_counter()
            queued = run(client, settings, "queued", args.requests, args.threads)
            wall = time.perf_counter() - start
            writer.stop()  # drains what is still queued
            written = count(engine) - before
            report(
                "queued",
                queued,
                wall,
                f"; {written} events in {writer.batches_written - batches} transactions",
            )
            # No writer thread: each request writes its own event before answering.
            before = count(engine)
            start = time.perf_counter()
            direct = run(client, settings, "direct", args.requests, args.threads)
            wall = time.perf_counter() - start
            report("direct", direct, wall, f"; {count(engine) - before} events")
            writer.start()  # the app's shutdown stops it again
        engine.dispose()


if __name__ == "__main__":
    main()
