"""The send rate every worker process shares, one clock per transport key, in the database.

A row per key holds `next_free_at` (epoch seconds). `reserve` reads and advances it in one
short transaction under a lock (SELECT ... FOR UPDATE on PostgreSQL; BEGIN IMMEDIATE on SQLite,
which serialises writers), so concurrent callers get disjoint slots wherever they run:

    wait = reserve(engine, transport.rate_key, len(batch), transport.max_send_rate())
    time.sleep(wait)  # or heartbeat while waiting
    ... send the batch ...

Idle time is not banked (a slot never starts before now), so a quiet hour does not allow a
burst afterwards. A reservation of n lets its caller send n messages at once; callers keep n
small (about one second's worth) so bursts stay within what the provider tolerates.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import Session, select

from models.send_rate import SendRateSlot


def _lock_row(session: Session, key: str) -> SendRateSlot:
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if raw is not None and not getattr(raw, "in_transaction", True):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        row = session.get(SendRateSlot, key)
        if row is None:
            row = SendRateSlot(key=key, next_free_at=0.0)
            session.add(row)
        return row
    if conn.dialect.name == "postgresql":
        # Create the row if missing without failing a racing peer, then lock it.
        session.execute(
            pg_insert(SendRateSlot)
            .values(key=key, next_free_at=0.0)
            .on_conflict_do_nothing(index_elements=["key"])
        )
    elif session.get(SendRateSlot, key) is None:  # other databases: best effort
        session.add(SendRateSlot(key=key, next_free_at=0.0))
        session.flush()
    return session.exec(select(SendRateSlot).where(SendRateSlot.key == key).with_for_update()).one()


def reserve(
    engine: Engine,
    key: str,
    n: int,
    per_second: float,
    *,
    clock: Callable[[], float] = time.time,
) -> float:
    """Reserve slots for `n` messages on `key` at `per_second`; the seconds to wait before
    sending them (0.0 when they may go now)."""
    if n < 1:
        raise ValueError("n: reserve at least one message")
    if per_second <= 0:
        raise ValueError("per_second must be positive")
    with Session(engine, expire_on_commit=False) as session:
        row = _lock_row(session, key)
        now = clock()
        start = max(now, row.next_free_at)
        row.next_free_at = start + n / per_second
        session.add(row)
        session.commit()
    return start - now
