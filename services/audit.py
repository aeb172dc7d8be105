"""The tamper-evident audit trail: append-only events, hash-chained per brand.

hash = SHA-256(previous hash || canonical JSON of the event). Appends for one brand are
serialised by locking the brand's chain-head row (SELECT ... FOR UPDATE on PostgreSQL; on SQLite
`append` takes the write lock first, BEGIN IMMEDIATE, and a lost race is retried), so the chain
never forks. The event key makes a retried write (an activity retry, a repeated request) a
no-op that returns the original event.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.spreadsheet import safe_cell
from models.audit import AuditChainHead, AuditEvent
from models.base import utcnow

GENESIS_HASH = "0" * 64
SYSTEM_ACTOR = "system"
_APPEND_ATTEMPTS = 20


def json_safe(value: Any) -> Any:
    """What the JSON column will hand back, so the stored event hashes the same later."""
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def _timestamp(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(event: AuditEvent) -> bytes:
    body = {
        "brand_id": event.brand_id,
        "seq": event.seq,
        "event_key": event.event_key,
        "at": _timestamp(event.at),
        "actor": event.actor,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "region_id": event.region_id,
        "partner_id": event.partner_id,
        "before": event.before,
        "after": event.after,
        "comment": event.comment,
        "request_id": event.request_id,
        "workflow_id": event.workflow_id,
        "run_id": event.run_id,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical_json(event)).hexdigest()


@dataclass(frozen=True)
class NewEvent:
    """What a caller says happened; the chain fields are added on append."""

    brand_id: int
    actor: str
    action: str
    entity_type: str
    entity_id: str
    event_key: str
    region_id: int | None = None
    partner_id: int | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    comment: str | None = None
    request_id: str | None = None
    workflow_id: str | None = None
    run_id: str | None = None
    at: datetime | None = None


def _existing(session: Session, event_key: str) -> AuditEvent | None:
    return session.exec(select(AuditEvent).where(AuditEvent.event_key == event_key)).first()


def _locked_head(session: Session, brand_id: int) -> AuditChainHead:
    stmt = select(AuditChainHead).where(AuditChainHead.brand_id == brand_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    head = session.exec(stmt).first()
    if head is None:
        head = AuditChainHead(brand_id=brand_id, seq=0, hash=GENESIS_HASH)
        session.add(head)
        session.flush()
    return head


def append_in(session: Session, new: NewEvent) -> AuditEvent:
    """Append inside the caller's transaction (so the event commits with the change it records).

    On a lost race the caller's transaction fails with IntegrityError; `append` retries.
    """
    existing = _existing(session, new.event_key)
    if existing is not None:
        return existing
    head = _locked_head(session, new.brand_id)
    event = AuditEvent(
        brand_id=new.brand_id,
        seq=head.seq + 1,
        event_key=new.event_key,
        at=new.at or utcnow(),
        actor=new.actor,
        action=new.action,
        entity_type=new.entity_type,
        entity_id=new.entity_id,
        region_id=new.region_id,
        partner_id=new.partner_id,
        before=json_safe(new.before),
        after=json_safe(new.after),
        comment=new.comment,
        request_id=new.request_id,
        workflow_id=new.workflow_id,
        run_id=new.run_id,
        prev_hash=head.hash,
        hash="",
    )
    # Round the timestamp as the database stores it (microseconds, UTC).
    event.at = datetime.fromisoformat(_timestamp(event.at))
    event.hash = chain_hash(head.hash, event)
    head.seq = event.seq
    head.hash = event.hash
    session.add(event)
    session.add(head)
    session.flush()
    return event


def begin_write(session: Session) -> None:
    """SQLite: take the write lock before the chain head is read (BEGIN IMMEDIATE).

    pysqlite starts its transaction only at the first write, so the head would be read
    unlocked; a writer waiting in the busy handler then reads a stale head and loses the race
    again and again to a peer that appends in a loop (seen: 2 threads x 500 appends, ~1% gave
    up after all attempts). With the lock taken first, whoever gets it reads the current head.
    """
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        return
    raw = conn.connection.dbapi_connection
    if raw is not None and not getattr(raw, "in_transaction", True):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def append(session_factory: Any, new: NewEvent) -> AuditEvent:
    """Append in a transaction of its own, retrying lost races; for activities and scripts.

    `session_factory` is a zero-argument callable returning a new Session.
    """
    last: IntegrityError | None = None
    for _ in range(_APPEND_ATTEMPTS):
        session: Session = session_factory()
        try:
            begin_write(session)
            event = append_in(session, new)
            session.commit()
            return event
        except IntegrityError as err:
            session.rollback()
            last = err
        finally:
            session.close()
    raise RuntimeError(f"audit append for brand {new.brand_id} kept losing races") from last


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_broken_seq: int | None = None
    first_broken_id: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_broken_seq": self.first_broken_seq,
            "first_broken_id": self.first_broken_id,
            "reason": self.reason,
        }


def verify_chain(session: Session, brand_id: int) -> VerifyResult:
    """Recompute the brand's chain; report the first event that does not fit.

    Detects an edited row (its hash no longer matches), a deleted or reordered row (the
    sequence has a gap or the link to the previous hash breaks) and a truncated tail (the
    head row remembers the last link).
    """
    rows = session.exec(
        select(AuditEvent).where(AuditEvent.brand_id == brand_id).order_by(col(AuditEvent.seq))
    ).all()
    prev = GENESIS_HASH
    for expected_seq, event in enumerate(rows, start=1):
        reason = None
        if event.seq != expected_seq:
            reason = f"sequence gap: expected {expected_seq}, found {event.seq}"
        elif event.prev_hash != prev:
            reason = "link to the previous event is broken"
        elif chain_hash(prev, event) != event.hash:
            reason = "event content does not match its hash"
        if reason:
            return VerifyResult(False, expected_seq - 1, event.seq, event.id, reason)
        prev = event.hash
    head = session.get(AuditChainHead, brand_id)
    if head is not None and (head.seq != len(rows) or head.hash != prev):
        return VerifyResult(
            False, len(rows), len(rows) + 1, None, "events missing at the end of the chain"
        )
    return VerifyResult(True, len(rows))


@dataclass(frozen=True)
class AuditFilter:
    entity_type: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def filtered(where: Any, flt: AuditFilter) -> Any:
    """The SELECT for one principal's scope (`where`) and the caller's filters, newest first."""
    stmt = select(AuditEvent).where(where)
    if flt.entity_type:
        stmt = stmt.where(AuditEvent.entity_type == flt.entity_type)
    if flt.entity_id:
        stmt = stmt.where(AuditEvent.entity_id == flt.entity_id)
    if flt.actor:
        stmt = stmt.where(AuditEvent.actor == flt.actor)
    if flt.action:
        stmt = stmt.where(AuditEvent.action == flt.action)
    if flt.since:
        stmt = stmt.where(col(AuditEvent.at) >= flt.since)
    if flt.until:
        stmt = stmt.where(col(AuditEvent.at) < flt.until)
    return stmt.order_by(col(AuditEvent.seq).desc())


CSV_COLUMNS = (
    "seq",
    "at",
    "actor",
    "action",
    "entity_type",
    "entity_id",
    "region_id",
    "partner_id",
    "comment",
    "request_id",
    "workflow_id",
    "run_id",
    "before",
    "after",
    "prev_hash",
    "hash",
)


def csv_row(event: AuditEvent) -> list[str]:
    """One export line; JSON columns stay JSON, and cells that a spreadsheet would run as a
    formula are guarded (`core.spreadsheet.safe_cell`)."""
    out = []
    for name in CSV_COLUMNS:
        value = getattr(event, name)
        if isinstance(value, dict | list):
            text = json.dumps(value, sort_keys=True)
        elif isinstance(value, datetime):
            text = _timestamp(value)
        else:
            text = "" if value is None else str(value)
        out.append(safe_cell(text))
    return out
