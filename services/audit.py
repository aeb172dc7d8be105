"""The tamper-evident audit trail: append-only events, chained per brand, keyed and anchored.

Each event's link is HMAC-SHA256(chain key, previous hash || canonical JSON of the event); the
chain key is derived from AUDIT_KEY (core/audit_keys.py), which is not in the database, so
someone who can write rows can no longer rewrite an event and recompute every later link.
Signed checkpoints of each brand's head, written outside the database
(services/audit_checkpoints.py), catch what a key cannot: a dropped tail with a rewound head.

Events written before the chain was keyed keep their plain SHA-256 links (`mac_version` 0) and
keep verifying; the chain continues keyed from the first new event (`mac_version` 1). Re-keying
them in the migration was rejected: it would bless whatever the rows say at migration time,
make every hash exported or noted before the upgrade stop matching, and put the key into
migrations. The price: a database writer can still rewrite the plain prefix and recompute its
SHA-256 links (or downgrade a whole chain to plain links) until the first checkpoint anchors
it; from then on the checkpoint's hash and its `legacy_until` pin the prefix, and a plain link
after a keyed one, or beyond `legacy_until`, is refused as a downgrade.

Appends for one brand are serialised by locking the brand's chain-head row (SELECT ... FOR
UPDATE on PostgreSQL; on SQLite `append` takes the write lock first, BEGIN IMMEDIATE, and a lost
race is retried), so the chain never forks. The event key makes a retried write (an activity
retry, a repeated request) a no-op that returns the original event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.audit_keys import AuditKey, AuditKeys, current_keys
from core.spreadsheet import safe_cell
from models.audit import AuditChainHead, AuditEvent
from models.base import utcnow
from services.paging import Key, Listing
from services.webhooks.capture import capture_in

GENESIS_HASH = "0" * 64
MAC_LEGACY = 0  # plain SHA-256, events from before the chain was keyed
MAC_HMAC = 1  # HMAC-SHA256 with the chain key of `key_id`
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


def legacy_hash(prev_hash: str, event: AuditEvent) -> str:
    """The link of events from before keying: anyone can recompute it."""
    return hashlib.sha256(prev_hash.encode() + canonical_json(event)).hexdigest()


def keyed_hash(key: AuditKey, prev_hash: str, event: AuditEvent) -> str:
    message = prev_hash.encode() + canonical_json(event)
    return hmac.new(key.chain, message, hashlib.sha256).hexdigest()


class UnknownAuditKey(LookupError):
    """The event was linked with a key that is neither AUDIT_KEY nor in AUDIT_KEY_PREVIOUS."""


def chain_hash(prev_hash: str, event: AuditEvent, keys: AuditKeys | None = None) -> str:
    """The link the event should carry, by its `mac_version`; raises UnknownAuditKey."""
    if event.mac_version == MAC_LEGACY:
        return legacy_hash(prev_hash, event)
    if event.mac_version != MAC_HMAC:
        raise UnknownAuditKey(f"unknown link version {event.mac_version}")
    key = (keys or current_keys()).by_id(event.key_id)
    if key is None:
        raise UnknownAuditKey(
            f"made with audit key {event.key_id}, which is not configured "
            "(AUDIT_KEY or AUDIT_KEY_PREVIOUS)"
        )
    return keyed_hash(key, prev_hash, event)


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


def append_in(session: Session, new: NewEvent, keys: AuditKeys | None = None) -> AuditEvent:
    """Append inside the caller's transaction (so the event commits with the change it records).

    Always keyed with the current audit key. On a lost race the caller's transaction fails with
    IntegrityError; `append` retries.
    """
    key = (keys or current_keys()).current
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
        mac_version=MAC_HMAC,
        key_id=key.key_id,
    )
    # Round the timestamp as the database stores it (microseconds, UTC).
    event.at = datetime.fromisoformat(_timestamp(event.at))
    event.hash = keyed_hash(key, head.hash, event)
    head.seq = event.seq
    head.hash = event.hash
    session.add(event)
    session.add(head)
    session.flush()
    capture_in(session, event)  # webhook events commit with the audit event, or not at all
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


def append(session_factory: Any, new: NewEvent, keys: AuditKeys | None = None) -> AuditEvent:
    """Append in a transaction of its own, retrying lost races; for activities and scripts.

    `session_factory` is a zero-argument callable returning a new Session.
    """
    last: IntegrityError | None = None
    for _ in range(_APPEND_ATTEMPTS):
        session: Session = session_factory()
        try:
            begin_write(session)
            event = append_in(session, new, keys)
            session.commit()
            return event
        except IntegrityError as err:
            session.rollback()
            last = err
        finally:
            session.close()
    raise RuntimeError(f"audit append for brand {new.brand_id} kept losing races") from last


@dataclass(frozen=True)
class AnchorCheckpoint:
    """A checkpoint whose signature verified: what the chain is compared against."""

    brand_id: int
    seq: int
    hash: str
    at: datetime
    legacy_until: int
    key_id: str
    location: str
    lock: str
    retain_until: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "brand_id": self.brand_id,
            "seq": self.seq,
            "hash": self.hash,
            "at": _timestamp(self.at),
            "legacy_until": self.legacy_until,
            "key_id": self.key_id,
            "location": self.location,
            "lock": self.lock,
            "retain_until": _timestamp(self.retain_until) if self.retain_until else None,
        }


@dataclass(frozen=True)
class RefusedCheckpoint:
    location: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"location": self.location, "reason": self.reason}


@dataclass(frozen=True)
class Anchor:
    """What the checkpoint store says about one brand (read by services.audit_checkpoints).

    `keyed_sweep_done`: the first checkpoint sweep after keying has run, so a brand without a
    checkpoint has no plain links to excuse. `error`: the store could not be read.
    """

    checkpoint: AnchorCheckpoint | None = None
    refused: tuple[RefusedCheckpoint, ...] = ()
    keyed_sweep_done: bool = False
    error: str | None = None


@dataclass(frozen=True)
class VerifyResult:
    """The first five fields are the original report; the rest say what was checked."""

    ok: bool
    checked: int
    first_broken_seq: int | None = None
    first_broken_id: int | None = None
    reason: str | None = None
    events: int = 0
    keyed: int = 0
    legacy: int = 0
    checkpoint: AnchorCheckpoint | None = None
    unanchored: int = 0
    refused_checkpoints: tuple[RefusedCheckpoint, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_broken_seq": self.first_broken_seq,
            "first_broken_id": self.first_broken_id,
            "reason": self.reason,
            "events": self.events,
            "keyed": self.keyed,
            "legacy": self.legacy,
            "checkpoint": self.checkpoint.as_dict() if self.checkpoint else None,
            "unanchored": self.unanchored,
            "refused_checkpoints": [r.as_dict() for r in self.refused_checkpoints],
        }


def _link_problem(
    event: AuditEvent, prev: str, keys: AuditKeys, seen_keyed: bool, legacy_until: int | None
) -> str | None:
    if event.mac_version == MAC_LEGACY:
        if seen_keyed:
            return "plain SHA-256 link after keyed events: the chain was downgraded"
        if legacy_until is not None and event.seq > legacy_until:
            allowed = f"up to seq {legacy_until}" if legacy_until else "none"
            return (
                f"plain SHA-256 link where the checkpoints allow keyed links only "
                f"(plain links: {allowed}): the chain was downgraded"
            )
    try:
        expected = chain_hash(prev, event, keys)
    except UnknownAuditKey as err:
        return str(err)
    if not hmac.compare_digest(expected, event.hash):
        return "event content does not match its hash"
    return None


def verify_chain(
    session: Session, brand_id: int, keys: AuditKeys | None = None, anchor: Anchor | None = None
) -> VerifyResult:
    """Recompute the brand's chain and compare it with its newest checkpoint.

    Detects an edited row (its link no longer matches: without the key a writer cannot make a
    keyed link match), a deleted or reordered row (a sequence gap or a broken link), a chain
    downgraded to plain SHA-256 links, a truncated tail (the head row remembers the last link)
    and, with `anchor`, a rewritten or dropped stretch the checkpoint covered even when the
    head row and every link were made to fit. Without `anchor` only the database is consulted.
    """
    keys = keys or current_keys()
    anchor = anchor or Anchor()
    cp = anchor.checkpoint
    if cp is not None:
        legacy_until: int | None = cp.legacy_until
    else:
        legacy_until = 0 if anchor.keyed_sweep_done else None
    rows = session.exec(
        select(AuditEvent).where(AuditEvent.brand_id == brand_id).order_by(col(AuditEvent.seq))
    ).all()
    counts = {"keyed": 0, "legacy": 0}

    def result(
        ok: bool, checked: int, seq: int | None, row_id: int | None, why: str | None
    ) -> VerifyResult:
        return VerifyResult(
            ok,
            checked,
            seq,
            row_id,
            why,
            events=len(rows),
            keyed=counts["keyed"],
            legacy=counts["legacy"],
            checkpoint=cp,
            unanchored=max(0, len(rows) - cp.seq) if cp else len(rows),
            refused_checkpoints=anchor.refused,
        )

    prev = GENESIS_HASH
    seen_keyed = False
    for expected_seq, event in enumerate(rows, start=1):
        reason = None
        if event.seq != expected_seq:
            reason = f"sequence gap: expected {expected_seq}, found {event.seq}"
        elif event.prev_hash != prev:
            reason = "link to the previous event is broken"
        else:
            reason = _link_problem(event, prev, keys, seen_keyed, legacy_until)
        if reason is None and cp is not None and event.seq == cp.seq and event.hash != cp.hash:
            reason = (
                f"the chain up to seq {cp.seq} does not match the checkpoint of "
                f"{_timestamp(cp.at)} ({cp.location}): an event at or before seq {cp.seq} "
                "was rewritten"
            )
        if reason:
            return result(False, expected_seq - 1, event.seq, event.id, reason)
        if event.mac_version == MAC_LEGACY:
            counts["legacy"] += 1
        else:
            counts["keyed"] += 1
            seen_keyed = True
        prev = event.hash
    head = session.get(AuditChainHead, brand_id)
    if head is not None and (head.seq != len(rows) or head.hash != prev):
        return result(
            False, len(rows), len(rows) + 1, None, "events missing at the end of the chain"
        )
    if cp is not None and len(rows) < cp.seq:
        return result(
            False,
            len(rows),
            len(rows) + 1,
            None,
            f"events missing after checkpoint seq {cp.seq}: the chain ends at seq {len(rows)}, "
            f"the checkpoint of {_timestamp(cp.at)} ({cp.location}) covered seq {cp.seq}",
        )
    if anchor.error is not None:
        return result(False, len(rows), None, None, f"checkpoints unreadable: {anchor.error}")
    if anchor.refused:
        first = anchor.refused[0]
        return result(
            False, len(rows), None, None, f"checkpoint {first.location} refused: {first.reason}"
        )
    return result(True, len(rows), None, None, None)


@dataclass(frozen=True)
class AuditFilter:
    entity_type: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


EVENTS = Listing(
    "audit",
    col(AuditEvent.id),
    {"seq": Key(col(AuditEvent.seq), "int")},
    default="-seq",
)


def filtered(where: Any, flt: AuditFilter) -> Any:
    """The SELECT for one principal's scope (`where`) and the caller's filters, newest first
    (for paging: `services.paging.fetch` with EVENTS)."""
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
    "mac_version",
    "key_id",
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
