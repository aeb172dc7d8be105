"""Audit appends: the hash-chained, locked, idempotent path against bare INSERTs.

    python -m bench.audit_append [--events 2000] [--database-url URL]

Both paths write the same rows, one transaction per event (as API writes and activities do),
into a fresh database; the ratio says what the chain (lookup by event key, head-row lock, SHA-256
over canonical JSON) costs over writing the row alone.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, text
from sqlmodel import Session

from core.db import make_engine
from models.audit import AuditEvent
from models.org import Brand
from scripts.migrate import upgrade
from services import audit


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
        ok = audit.verify_chain(s, brand_id).ok
    print(f"database          {engine.dialect.name}")
    print(f"events            {args.events}")
    print(f"bare inserts/s    {bare_rate:,.0f}")
    print(f"chained appends/s {chain_rate:,.0f}")
    print(f"ratio             {chain_rate / bare_rate:.2f} (chained / bare)")
    print(f"chain verifies    {ok}")
    engine.dispose()


if __name__ == "__main__":
    main()
