"""The check that proves a fund's balance: every row is read again and the invariants the
ledger promises are asserted one by one. An empty list means balanced.

Beyond the sums, each row is compared with the audit event written in the same transaction
(event key `fund-<id>-<key>`): the audit trail is hash-chained, so a row changed behind the
ledger's back no longer matches what was recorded when it was written.
"""

from __future__ import annotations

from collections import Counter

from sqlmodel import Session, col, select

from domain.money import ClaimState, LedgerKind
from models.audit import AuditEvent
from models.claims import Claim
from models.funds import Fund, FundLedgerEntry
from services.funds import ledger

# A release key -> the reservation key it gives back.
RELEASE_PREFIXES = {
    "release-pc-": "reserve-pc-",
    "booked-pc-": "reserve-pc-",
    "release-po-": "reserve-po-",
    "booked-po-": "reserve-po-",
}
PAYABLE = frozenset({ClaimState.approved, ClaimState.paid})


def reservation_key(release_key: str) -> str | None:
    for prefix, reserve in RELEASE_PREFIXES.items():
        if release_key.startswith(prefix):
            return reserve + release_key.removeprefix(prefix)
    return None


def check(session: Session, fund: Fund) -> list[str]:
    assert fund.id is not None
    rows = list(
        session.exec(
            select(FundLedgerEntry)
            .where(FundLedgerEntry.fund_id == fund.id)
            .order_by(col(FundLedgerEntry.id))
        ).all()
    )
    problems: list[str] = []
    problems += _sums(session, fund.id, rows)
    problems += _rows(fund, rows)
    problems += _releases(rows)
    problems += _claims(session, rows)
    problems += _audited(session, fund.id, rows)
    return problems


def _sums(session: Session, fund_id: int, rows: list[FundLedgerEntry]) -> list[str]:
    out = []
    total = sum(r.amount_minor for r in rows)
    bal = ledger.balance(session, fund_id)
    if bal.available != total:
        out.append(f"available {bal.available} is not the sum of the amounts {total}")
    if bal.reserved < 0:
        out.append(f"more was released than reserved ({-bal.reserved} minor units)")
    if bal.paid > bal.spent:
        out.append(f"paid {bal.paid} is more than spent {bal.spent}")
    return out


def _rows(fund: Fund, rows: list[FundLedgerEntry]) -> list[str]:
    out = []
    for key, n in Counter(r.key for r in rows).items():
        if n > 1:
            out.append(f"key {key} is used {n} times")
    for r in rows:
        if (r.amount_minor > 0) - (r.amount_minor < 0) not in ledger.SIGNS[r.kind]:
            out.append(f"entry {r.id} ({r.kind.value}) has the wrong sign: {r.amount_minor}")
        if r.brand_id != fund.brand_id or r.partner_id != fund.partner_id:
            out.append(f"entry {r.id} belongs to another partner than its fund")
        if r.gross_minor < 0 or r.paid_minor < 0:
            out.append(f"entry {r.id} has a negative gross or paid amount")
        if r.kind == LedgerKind.spend and r.channel not in fund.eligible_channels:
            out.append(f"entry {r.id} books spend on {r.channel or 'no channel'}, not eligible")
    return out


def _releases(rows: list[FundLedgerEntry]) -> list[str]:
    out = []
    reserved = {r.key: -r.amount_minor for r in rows if r.kind == LedgerKind.reservation}
    released: dict[str, list[FundLedgerEntry]] = {}
    for r in rows:
        if r.kind != LedgerKind.release:
            continue
        target = reservation_key(r.key)
        if target is None or target not in reserved:
            out.append(f"release {r.key} gives back no reservation of this fund")
            continue
        released.setdefault(target, []).append(r)
    for target, given in released.items():
        if len(given) > 1:
            out.append(f"reservation {target} is released {len(given)} times")
        back = sum(r.amount_minor for r in given)
        if back > reserved[target]:
            out.append(f"reservation {target}: {back} released, only {reserved[target]} reserved")
    return out


def _claims(session: Session, rows: list[FundLedgerEntry]) -> list[str]:
    out = []
    for r in rows:
        if r.kind != LedgerKind.claim_paid:
            continue
        claim = session.get(Claim, r.claim_id) if r.claim_id is not None else None
        if claim is None or claim.state not in PAYABLE:
            out.append(f"payment {r.key} is for no approved or paid claim")
    return out


def _audited(session: Session, fund_id: int, rows: list[FundLedgerEntry]) -> list[str]:
    """Every row as its audit event recorded it when it was written."""
    if not rows:
        return []
    keys = [f"fund-{fund_id}-{r.key}" for r in rows]
    events = {
        e.event_key: e
        for e in session.exec(select(AuditEvent).where(col(AuditEvent.event_key).in_(keys))).all()
    }
    out = []
    for r, key in zip(rows, keys, strict=True):
        event = events.get(key)
        if event is None:
            out.append(f"entry {r.id} ({r.key}) has no audit event")
            continue
        after = event.after or {}
        recorded = (after.get("amount_minor"), after.get("gross_minor"), after.get("paid_minor"))
        if recorded != (r.amount_minor, r.gross_minor, r.paid_minor):
            out.append(f"entry {r.id} ({r.key}) differs from its audit event")
    return out
