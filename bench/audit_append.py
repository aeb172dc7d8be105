"""Audit appends: the keyed, locked, idempotent path against bare INSERTs.

    python -m bench.audit_append [--events 2000] [--database-url URL]

Both paths write the same rows, one transaction per event (as API writes and activities do),
into a fresh database; the ratio says what the chain (lookup by event key, head-row lock,
HMAC-SHA256 over canonical JSON) costs over writing the row alone. The link functions are also
timed alone, plain SHA-256 (events from before keying) against HMAC-SHA256, in the same
process, and one checkpoint is written and the chain verified against it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, text
from sqlmodel import Session

from core.audit_keys import current_keys
from core.db import make_engine
from models.audit import AuditEvent
from models.org import Brand
from scripts.migrate import upgrade
from services import audit, audit_checkpoints
from storage.local import LocalBlobStore


def fresh_engine(url: str | None) -> Engine:
    if url is None:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    with engine.begin() as conn:
        upgrade(conn)
    return engine


def new_brand(engine: Engine) -> int:
    with Session(engine) as s:
        brand = Brand(slug=uuid.uuid4().hex[:12], name="bench")
        s.add(brand)
        s.commit()
        assert brand.id is not None
        return brand.id


def event(brand_id: int, i: int, run: str) -> audit.NewEvent:
    return audit.NewEvent(
        brand_id=brand_id,
        actor="42",
        action="partner_campaign.approved",
        entity_type="partner_campaign",
        entity_id=str(i),
        event_key=f"{run}:{i}",
        before={"state": "pending_gm"},
        after={"state": "approved"},
        comment="looks good",
    )


def chained(engine: Engine, n: int) -> float:
    brand_id = new_brand(engine)
    start = time.perf_counter()
    for i in range(n):
        audit.append(lambda: Session(engine), event(brand_id, i, "chain"))
    return n / (time.perf_counter() - start)


def bare(engine: Engine, n: int) -> float:
    brand_id = new_brand(engine)
    start = time.perf_counter()
    for i in range(n):
        e = event(brand_id, i, "bare")
        with Session(engine) as s:
            s.add(
                AuditEvent(
                    brand_id=brand_id,
                    seq=i + 1,
                    event_key=e.event_key,
                    actor=e.actor,
                    action=e.action,
                    entity_type=e.entity_type,
                    entity_id=e.entity_id,
                    before=e.before,
                    after=e.after,
                    comment=e.comment,
                    prev_hash="0" * 64,
                    hash="0" * 64,
                )
            )
            s.commit()
    return n / (time.perf_counter() - start)


def links(engine: Engine, brand_id: int, rounds: int = 20000) -> tuple[float, float]:
    """Microseconds per link, plain SHA-256 and HMAC-SHA256, over a stored event."""
    with Session(engine) as s:
        row = s.exec(
            text("SELECT id FROM auditevent WHERE brand_id = :b LIMIT 1"), params={"b": brand_id}
        ).one()  # type: ignore[call-overload]
        event = s.get(AuditEvent, row[0])
    assert event is not None
    key = current_keys().current
    start = time.perf_counter()
    for _ in range(rounds):
        audit.legacy_hash(event.prev_hash, event)
    plain = (time.perf_counter() - start) / rounds * 1e6
    start = time.perf_counter()
    for _ in range(rounds):
        audit.keyed_hash(key, event.prev_hash, event)
    keyed = (time.perf_counter() - start) / rounds * 1e6
    return plain, keyed


def anchored_verify(engine: Engine, brand_id: int) -> tuple[bool, float, float]:
    """One checkpoint written to a local store, then the chain verified against it."""
    store = LocalBlobStore(Path(tempfile.mkdtemp()), "bench", "http://bench")
    policy = audit_checkpoints.CheckpointPolicy("GOVERNANCE", timedelta(days=1))
    with Session(engine) as s:
        start = time.perf_counter()
        audit_checkpoints.write_checkpoint(s, store, brand_id, policy=policy, now=datetime.now(UTC))
        write_ms = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        keys = current_keys()
        result = audit.verify_chain(
            s, brand_id, keys, audit_checkpoints.anchor_for(store, keys, brand_id)
        )
        verify_ms = (time.perf_counter() - start) * 1e3
    return result.ok and result.checkpoint is not None, write_ms, verify_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    engine = fresh_engine(args.database_url)
    bare_rate = bare(engine, args.events)
    chain_rate = chained(engine, args.events)
    with Session(engine) as s:
        brand_id = s.exec(text("SELECT max(brand_id) FROM auditevent")).one()[0]  # type: ignore[call-overload]
    plain_us, keyed_us = links(engine, brand_id)
    ok, write_ms, verify_ms = anchored_verify(engine, brand_id)
    print(f"database                  {engine.dialect.name}")
    print(f"events                    {args.events}")
    print(f"bare inserts/s            {bare_rate:,.0f}")
    print(f"keyed appends/s (HMAC)    {chain_rate:,.0f}")
    print(f"ratio                     {chain_rate / bare_rate:.2f} (keyed / bare)")
    print(f"link alone, SHA-256       {plain_us:.1f} us")
    print(f"link alone, HMAC-SHA256   {keyed_us:.1f} us ({keyed_us / plain_us:.2f}x)")
    print(f"checkpoint write          {write_ms:.1f} ms")
    print(f"verify vs checkpoint      {verify_ms:.1f} ms ({args.events} events)")
    print(f"chain verifies            {ok}")
    engine.dispose()


if __name__ == "__main__":
    main()
