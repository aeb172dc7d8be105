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

import threading
import time
from collections import deque
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


def hold(
    engine: Engine, key: str, seconds: float, *, clock: Callable[[], float] = time.time
) -> None:
    """No slot on `key` starts before `seconds` from now: a provider's "too fast, wait" applies
    to every worker sharing the account, not only to the one that heard it."""
    if seconds <= 0:
        return
    with Session(engine, expire_on_commit=False) as session:
        row = _lock_row(session, key)
        row.next_free_at = max(row.next_free_at, clock() + seconds)
        session.add(row)
        session.commit()


class AdaptiveRate:
    """The rate a worker reserves at: the transport's allowed rate until throttles are most
    of what the provider answers (`share` of the last `window` answers), then halved, and grown
    back by `recover` of the allowed rate per second (AIMD). A scattering of throttles (a
    provider that refuses some calls whatever the rate) is retried without slowing down; a
    rate above what the account allows is refused nearly always and is cut within a window.

    One per transport key per worker process, shared by its concurrent batches (thread-safe).
    The shared clock (`reserve`) keeps workers together; this only makes each ask for less."""

    def __init__(
        self,
        ceiling: float,
        *,
        floor_share: float = 0.02,
        recover: float = 0.1,
        window: int = 20,
        share: float = 0.6,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ceiling <= 0:
            raise ValueError("ceiling must be positive")
        self.ceiling = ceiling
        self.floor = ceiling * floor_share
        self.recover = recover
        self.share = share
        self._answers: deque[bool] = deque(maxlen=window)  # True: throttled
        self._clock = clock
        self._rate = ceiling
        self._updated = clock()
        self._lock = threading.Lock()

    def current(self) -> float:
        """The rate now, grown back by the time since the last change."""
        with self._lock:
            return self._grown()

    def _grown(self) -> float:
        now = self._clock()
        grown = self.ceiling * self.recover * (now - self._updated)
        self._rate = min(self.ceiling, self._rate + grown)
        self._updated = now
        return self._rate

    def succeeded(self) -> None:
        with self._lock:
            self._answers.append(False)

    def throttled(self) -> float:
        """The provider said "too fast"; the rate after it (halved when throttles are at
        least `share` of a full window of answers, which then starts afresh)."""
        with self._lock:
            rate = self._grown()
            self._answers.append(True)
            full = len(self._answers) == self._answers.maxlen
            if full and sum(self._answers) >= self.share * len(self._answers):
                self._rate = max(self.floor, rate / 2)
                self._answers.clear()
            return self._rate
