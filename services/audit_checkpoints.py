"""Signed checkpoints of each brand's audit chain head, kept outside the database.

The keyed chain (services/audit.py) stops a database writer from forging links, but not from
dropping the newest events and rewinding the head row, nor from rewriting the plain SHA-256
prefix left from before keying. A checkpoint pins the chain as it was: brand, seq, hash, time,
`legacy_until` (how many leading events may have plain links) and an HMAC over all of it with
the checkpoint key, stored as a write-once object in the checkpoint store (files under
DATA_DIR, or S3 with an Object Lock retention). Verification compares the chain with the
newest checkpoint whose signature holds.

Keys are `brand-<id>/cp-<10^12-1-seq>-seq-<seq>-<time>.json`: the highest seq lists first, so
the newest checkpoint is one short listing away however many there are. `keyed-sweep.json`
records that the first sweep after keying has run: from then on a brand without a checkpoint
has no plain links to excuse, so a chain downgraded before its first checkpoint fails too.

A new checkpoint must continue the previous one (same hash at the previous seq, head not
below it); otherwise it is refused and the stale checkpoint keeps the evidence. Otherwise a
writer could rewind the head, let the application append, and have the next checkpoint bless
the result.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from core.audit_keys import AuditKey, AuditKeys, current_keys
from core.settings import Settings
from models.audit import AuditChainHead, AuditEvent
from models.org import Brand
from services.audit import (
    GENESIS_HASH,
    MAC_LEGACY,
    Anchor,
    AnchorCheckpoint,
    RefusedCheckpoint,
)
from storage.base import BlobExists, BlobNotFound, StorageError, WriteOnceStore, brand_key

log = logging.getLogger(__name__)

KIND_CHECKPOINT = "audit-checkpoint"
KIND_SWEEP = "audit-keyed-sweep"
FORMAT_VERSION = 1
CONTENT_TYPE = "application/json"
SWEEP_MARKER_KEY = "keyed-sweep.json"
_SEQ_SPACE = 10**12
_LISTING_BATCH = 20


class CheckpointInvalid(ValueError):
    """A checkpoint object that cannot be trusted; the message says why."""


class CheckpointRefused(Exception):
    """The chain no longer continues the previous checkpoint: nothing new is anchored."""

    def __init__(self, brand_id: int, reason: str) -> None:
        super().__init__(f"brand {brand_id}: {reason}")
        self.brand_id = brand_id
        self.reason = reason


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _mac(key: AuditKey, body: dict[str, Any]) -> str:
    return hmac.new(key.checkpoint, _canonical(body), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    brand_id: int
    seq: int
    hash: str
    at: datetime
    legacy_until: int
    key_id: str
    mac: str = ""

    def body(self) -> dict[str, Any]:
        """Everything the signature covers."""
        return {
            "kind": KIND_CHECKPOINT,
            "v": FORMAT_VERSION,
            "brand_id": self.brand_id,
            "seq": self.seq,
            "hash": self.hash,
            "at": _iso(self.at),
            "legacy_until": self.legacy_until,
            "key_id": self.key_id,
        }

    def to_bytes(self) -> bytes:
        return json.dumps({**self.body(), "mac": self.mac}, sort_keys=True, indent=1).encode()

    @property
    def key(self) -> str:
        stamp = self.at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return brand_key(
            self.brand_id, f"cp-{_SEQ_SPACE - 1 - self.seq:012d}-seq-{self.seq}-{stamp}.json"
        )


def sign(
    key: AuditKey, brand_id: int, seq: int, hash_: str, at: datetime, legacy_until: int
) -> Checkpoint:
    at = datetime.fromisoformat(_iso(at))
    unsigned = Checkpoint(brand_id, seq, hash_, at, legacy_until, key.key_id)
    return Checkpoint(
        brand_id, seq, hash_, at, legacy_until, key.key_id, _mac(key, unsigned.body())
    )


def _field(data: dict[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CheckpointInvalid(f"field {name!r} missing or not a {kind.__name__}")
    return value


def parse(raw: bytes) -> Checkpoint:
    """The object's fields, checked for shape (not yet for the signature)."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise CheckpointInvalid("not JSON") from None
    if not isinstance(data, dict) or data.get("kind") != KIND_CHECKPOINT:
        raise CheckpointInvalid("not an audit checkpoint")
    if data.get("v") != FORMAT_VERSION:
        raise CheckpointInvalid(f"unknown checkpoint version {data.get('v')!r}")
    try:
        at = datetime.fromisoformat(_field(data, "at", str))
    except ValueError:
        raise CheckpointInvalid("field 'at' is not a time") from None
    if at.tzinfo is None:
        raise CheckpointInvalid("field 'at' has no time zone")
    return Checkpoint(
        brand_id=_field(data, "brand_id", int),
        seq=_field(data, "seq", int),
        hash=_field(data, "hash", str),
        at=at,
        legacy_until=_field(data, "legacy_until", int),
        key_id=_field(data, "key_id", str),
        mac=_field(data, "mac", str),
    )


def signature_problem(cp: Checkpoint, keys: AuditKeys) -> str | None:
    key = keys.by_id(cp.key_id)
    if key is None:
        return (
            f"signed with audit key {cp.key_id}, which is not configured "
            "(AUDIT_KEY or AUDIT_KEY_PREVIOUS): forged, or made with a key since dropped"
        )
    if not hmac.compare_digest(_mac(key, cp.body()), cp.mac):
        return "signature does not verify: the checkpoint was forged or altered"
    return None


@dataclass(frozen=True)
class Latest:
    """The newest checkpoint of a brand whose signature holds, and the ones refused on the
    way to it (newer, but forged, altered or misplaced)."""

    checkpoint: Checkpoint | None
    refused: tuple[RefusedCheckpoint, ...] = ()


def _check(store: WriteOnceStore, keys: AuditKeys, brand_id: int, name: str) -> Checkpoint:
    cp = parse(store.get(name))
    problem = signature_problem(cp, keys)
    if problem is None and cp.brand_id != brand_id:
        problem = f"belongs to brand {cp.brand_id}"
    if problem is None and cp.key != name:
        problem = f"stored under a name that does not match its content (seq {cp.seq})"
    if problem is not None:
        raise CheckpointInvalid(problem)
    return cp


def _names(store: WriteOnceStore, prefix: str) -> Iterator[str]:
    """Highest seq first; the whole listing is read only when a first batch was all refused."""
    first = store.keys(prefix, limit=_LISTING_BATCH)
    yield from first
    if len(first) == _LISTING_BATCH:
        yield from store.keys(prefix)[_LISTING_BATCH:]


def latest_checkpoint(store: WriteOnceStore, keys: AuditKeys, brand_id: int) -> Latest:
    """Raises StorageError when the store cannot be read."""
    refused: list[RefusedCheckpoint] = []
    for name in _names(store, brand_key(brand_id)):
        try:
            return Latest(_check(store, keys, brand_id, name), tuple(refused[:_LISTING_BATCH]))
        except CheckpointInvalid as err:
            refused.append(RefusedCheckpoint(store.location(name), str(err)))
    return Latest(None, tuple(refused[:_LISTING_BATCH]))


def sweep_done(store: WriteOnceStore, keys: AuditKeys) -> bool:
    """Whether the first sweep after keying has run (a marker with a valid signature)."""
    try:
        data = json.loads(store.get(SWEEP_MARKER_KEY))
    except BlobNotFound:
        return False
    except ValueError:
        return False
    if not isinstance(data, dict) or data.get("kind") != KIND_SWEEP:
        return False
    key = keys.by_id(data.get("key_id"))
    body = {k: v for k, v in data.items() if k != "mac"}
    mac = data.get("mac")
    return key is not None and isinstance(mac, str) and hmac.compare_digest(_mac(key, body), mac)


def anchor_for(store: WriteOnceStore, keys: AuditKeys, brand_id: int) -> Anchor:
    """What verification compares the brand's chain with; a store failure is reported, not
    raised, so the chain itself is still checked."""
    try:
        latest = latest_checkpoint(store, keys, brand_id)
        done = sweep_done(store, keys)
        found = None
        if latest.checkpoint is not None:
            cp = latest.checkpoint
            retention = store.retention(cp.key)
            found = AnchorCheckpoint(
                brand_id=cp.brand_id,
                seq=cp.seq,
                hash=cp.hash,
                at=cp.at,
                legacy_until=cp.legacy_until,
                key_id=cp.key_id,
                location=store.location(cp.key),
                lock=retention.note,
                retain_until=retention.retain_until,
            )
        return Anchor(found, latest.refused, done)
    except StorageError as err:
        return Anchor(error=str(err))


@dataclass(frozen=True)
class CheckpointPolicy:
    lock_mode: str
    retention: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> CheckpointPolicy:
        return cls(
            settings.audit_checkpoint_lock_mode.value,
            timedelta(days=settings.audit_checkpoint_retention_days),
        )


@dataclass(frozen=True)
class Written:
    checkpoint: Checkpoint
    location: str
    lock: str
    retain_until: datetime | None


def _head(session: Session, brand_id: int) -> tuple[int, str]:
    """The head row's link, cross-checked with the newest event (a writer can edit either)."""
    head = session.get(AuditChainHead, brand_id)
    head_link = (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)
    newest = session.exec(
        select(AuditEvent)
        .where(AuditEvent.brand_id == brand_id)
        .order_by(col(AuditEvent.seq).desc())
        .limit(1)
    ).first()
    newest_link = (newest.seq, newest.hash) if newest is not None else (0, GENESIS_HASH)
    if head_link != newest_link:
        raise CheckpointRefused(
            brand_id,
            f"the chain head row (seq {head_link[0]}) does not match the newest event "
            f"(seq {newest_link[0]}): the chain was cut or rewritten",
        )
    return head_link


def _hash_at(session: Session, brand_id: int, seq: int) -> str | None:
    if seq == 0:
        return GENESIS_HASH
    event = session.exec(
        select(AuditEvent).where(AuditEvent.brand_id == brand_id, AuditEvent.seq == seq)
    ).first()
    return event.hash if event is not None else None


def _legacy_prefix(session: Session, brand_id: int, head_seq: int) -> int:
    last = session.exec(
        select(func.max(AuditEvent.seq)).where(
            AuditEvent.brand_id == brand_id,
            AuditEvent.mac_version == MAC_LEGACY,
            AuditEvent.seq <= head_seq,
        )
    ).one()
    return int(last or 0)


def write_checkpoint(
    session: Session,
    store: WriteOnceStore,
    brand_id: int,
    *,
    policy: CheckpointPolicy,
    now: datetime,
    keys: AuditKeys | None = None,
    force: bool = False,
    keyed_sweep_done: bool | None = None,
) -> Written | None:
    """Anchor the brand's head now. None when there is nothing new (the head has not moved
    since the latest checkpoint, or the chain is empty) unless `force`. Raises
    CheckpointRefused when the chain does not continue the latest checkpoint, StorageError
    when the store fails."""
    keys = keys or current_keys()
    seq, hash_ = _head(session, brand_id)
    previous = latest_checkpoint(store, keys, brand_id).checkpoint
    if previous is not None:
        if not force and (previous.seq, previous.hash) == (seq, hash_):
            return None
        if seq < previous.seq:
            raise CheckpointRefused(
                brand_id,
                f"events missing after checkpoint seq {previous.seq}: the chain ends at seq {seq}",
            )
        if _hash_at(session, brand_id, previous.seq) != previous.hash:
            raise CheckpointRefused(
                brand_id,
                f"event seq {previous.seq} no longer matches its checkpoint of "
                f"{_iso(previous.at)}: the chain was rewritten",
            )
        legacy_until = previous.legacy_until
    else:
        if not force and seq == 0:
            return None
        if keyed_sweep_done is None:
            keyed_sweep_done = sweep_done(store, keys)
        # Before the first sweep the database's own plain prefix is all there is to go by.
        legacy_until = 0 if keyed_sweep_done else _legacy_prefix(session, brand_id, seq)
    cp = sign(keys.current, brand_id, seq, hash_, now, legacy_until)
    retention = store.put_new(
        cp.key,
        cp.to_bytes(),
        CONTENT_TYPE,
        retain_until=now + policy.retention,
        mode=policy.lock_mode,
    )
    return Written(cp, store.location(cp.key), retention.note, retention.retain_until)


@dataclass
class SweepReport:
    written: list[Written] = field(default_factory=list)
    unchanged: int = 0
    refused: list[str] = field(default_factory=list)


def _write_sweep_marker(
    store: WriteOnceStore, key: AuditKey, now: datetime, policy: CheckpointPolicy
) -> None:
    body = {"kind": KIND_SWEEP, "v": FORMAT_VERSION, "at": _iso(now), "key_id": key.key_id}
    data = json.dumps({**body, "mac": _mac(key, body)}, sort_keys=True, indent=1).encode()
    try:
        store.put_new(
            SWEEP_MARKER_KEY,
            data,
            CONTENT_TYPE,
            retain_until=now + policy.retention,
            mode=policy.lock_mode,
        )
    except BlobExists:
        log.warning("audit checkpoint sweep marker exists but does not verify; left as it is")


def sweep(
    session_factory: Callable[[], Session],
    store: WriteOnceStore,
    *,
    policy: CheckpointPolicy,
    now: datetime,
    keys: AuditKeys | None = None,
) -> SweepReport:
    """Checkpoint every brand whose head moved since its latest checkpoint. The first sweep
    after keying also leaves the marker that stops excusing plain links in new chains; it is
    written only once every brand went through, so a failed first sweep is simply redone."""
    keys = keys or current_keys()
    done = sweep_done(store, keys)
    report = SweepReport()
    with session_factory() as session:
        brand_ids = list(session.exec(select(Brand.id).order_by(col(Brand.id))).all())
    for brand_id in brand_ids:
        assert brand_id is not None
        with session_factory() as session:
            try:
                written = write_checkpoint(
                    session,
                    store,
                    brand_id,
                    policy=policy,
                    now=now,
                    keys=keys,
                    keyed_sweep_done=done,
                )
            except CheckpointRefused as err:
                log.error("audit checkpoint refused: %s", err)
                report.refused.append(str(err))
                continue
        if written is None:
            report.unchanged += 1
        else:
            report.written.append(written)
    if not done:
        _write_sweep_marker(store, keys.current, now, policy)
    return report
