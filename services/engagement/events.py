"""The event table's writers: SES feedback, opens and clicks, unsubscribes.

Every event has an idempotency key and is inserted with "on conflict do nothing", so a replayed
SNS notification, a retried batch or a double click within the same minute adds nothing.

Opens and clicks arrive on public routes that must answer at once (a redirect the recipient
waits for). They go through an `EventWriter`: a bounded in-memory queue drained by one
background thread that writes up to TRACKING_BATCH_SIZE events per transaction, waiting up to
LINGER after the first event for the batch to fill (an event is in the table within about a
tenth of a second; a steady trickle is not one transaction per click). When the queue
is full the request writes its own event synchronously: slower under a flood, never a lost
event (`overflow_writes` counts those). Events still queued when the process stops are written
by `stop()`; a crash loses what is queued at that moment (at most TRACKING_QUEUE_SIZE events).
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from models.base import utcnow
from models.delivery import Delivery, DeliveryEvent

log = logging.getLogger(__name__)
LINGER = 0.05  # seconds the flusher waits for a batch to fill once an event arrived


@dataclass(frozen=True)
class Event:
    """One event before it is written; `key` makes writing it twice harmless."""

    delivery_id: int
    kind: str
    source: str
    key: str
    at: datetime
    url: str | None = None
    detail: str | None = None
    # Copied from the delivery row; 0: `write` looks them up (tracking routes read nothing).
    brand_id: int = 0
    partner_id: int = 0
    partner_campaign_id: int = 0

    def row(self) -> dict[str, Any]:
        return {
            "delivery_id": self.delivery_id,
            "brand_id": self.brand_id,
            "partner_id": self.partner_id,
            "partner_campaign_id": self.partner_campaign_id,
            "kind": self.kind,
            "source": self.source,
            "key": self.key[:200],
            "at": self.at,
            "url": self.url[:2000] if self.url else None,
            "detail": self.detail[:1000] if self.detail else None,
        }


def for_delivery(
    row: Delivery,
    kind: str,
    source: str,
    key: str,
    *,
    at: datetime | None = None,
    url: str | None = None,
    detail: str | None = None,
) -> Event:
    assert row.id is not None
    return Event(
        delivery_id=row.id,
        brand_id=row.brand_id,
        partner_id=row.partner_id,
        partner_campaign_id=row.partner_campaign_id,
        kind=kind,
        source=source,
        key=key,
        at=at or utcnow(),
        url=url,
        detail=detail,
    )


def minute_key(kind: str, delivery_id: int, url: str | None, at: datetime) -> str:
    """Opens and clicks: one per delivery, link and minute (a double click, a client that
    fetches the pixel twice while rendering)."""
    digest = hashlib.sha256((url or "").encode()).hexdigest()[:16]
    return f"{kind}:{delivery_id}:{digest}:{at:%Y%m%d%H%M}"


def write(session: Session, events: Sequence[Event]) -> int:
    """Insert the events in the caller's transaction, skipping keys already present; returns
    how many were new."""
    if not events:
        return 0
    rows = _with_owners(session, events)
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(DeliveryEvent)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(DeliveryEvent.id)
    )
    # Counted from RETURNING: psycopg reports no rowcount for this statement.
    return len(session.exec(stmt).all())


def _with_owners(session: Session, events: Sequence[Event]) -> list[dict[str, Any]]:
    """Rows with brand, partner and partner campaign filled in from the delivery table (one
    query per batch); events about a delivery that does not exist are dropped."""
    missing = sorted({e.delivery_id for e in events if not e.brand_id})
    owners: dict[int, tuple[int, int, int]] = {}
    if missing:
        found = session.exec(
            select(
                Delivery.id, Delivery.brand_id, Delivery.partner_id, Delivery.partner_campaign_id
            ).where(col(Delivery.id).in_(missing))
        ).all()
        owners = {int(i or 0): (b, p, pc) for i, b, p, pc in found}
    rows = []
    for event in events:
        row = event.row()
        if not event.brand_id:
            if event.delivery_id not in owners:
                continue
            row["brand_id"], row["partner_id"], row["partner_campaign_id"] = owners[
                event.delivery_id
            ]
        rows.append(row)
    return rows


class EventWriter:
    """A bounded queue of events and the thread that writes them in batches."""

    def __init__(self, engine: Engine, *, queue_size: int, batch_size: int) -> None:
        self.engine = engine
        self.batch_size = batch_size
        self.queue: queue.Queue[Event] = queue.Queue(maxsize=queue_size)
        self.batches_written = 0  # transactions the flusher committed
        self.events_written = 0
        self.overflow_writes = 0  # events written by the request because the queue was full
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="event-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then end the thread."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        try:
            self.flush()
        except Exception:  # the database is gone at shutdown: say what is lost, stop anyway
            log.exception("tracking events lost at shutdown: %d", self.queue.qsize())

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, event: Event) -> None:
        """Queue the event; write it here and now when the queue is full or nothing drains it."""
        if self.running:
            try:
                self.queue.put_nowait(event)
                return
            except queue.Full:
                self.overflow_writes += 1
        self._write([event])

    def flush(self) -> None:
        """Write everything queued now (in batches)."""
        while True:
            batch = self._take(block=False)
            if not batch:
                return
            self._write(batch)

    def _take(self, *, block: bool) -> list[Event]:
        """Up to batch_size events; blocking, it waits up to LINGER after the first for more
        to come, so a steady trickle is written in batches, not one transaction per click."""
        batch: list[Event] = []
        try:
            batch.append(self.queue.get(block=block, timeout=0.2 if block else None))
        except queue.Empty:
            return batch
        until = time.monotonic() + LINGER
        while len(batch) < self.batch_size:
            left = until - time.monotonic()
            try:
                if block and left > 0 and not self._stopping.is_set():
                    batch.append(self.queue.get(timeout=left))
                else:
                    batch.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, batch: list[Event]) -> None:
        with Session(self.engine) as session:
            written = write(session, batch)
            session.commit()
        self.batches_written += 1
        self.events_written += written

    def _run(self) -> None:
        while not self._stopping.is_set():
            batch = self._take(block=True)
            if not batch:
                continue
            try:
                self._write(batch)
            except Exception:  # the database is down: keep serving, log what was lost
                log.exception("tracking events lost: %d", len(batch))
