"""The fund ledger's one writer and its sums.

Every movement is a new row with a `key` unique per fund, written in the caller's transaction
together with its audit event: a retried activity or a replayed callback finds the row it wrote
and adds nothing. Balances are sums over the rows, never a stored running total.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, col, select

from domain.money import LedgerKind
from models.funds import Fund, FundLedgerEntry
from services.audit import NewEvent, append_in

# The sign each kind's amount must have (0: the amount must be zero).
SIGNS: dict[LedgerKind, tuple[int, ...]] = {
    LedgerKind.allocation: (1, -1),
    LedgerKind.reservation: (-1,),
    LedgerKind.release: (1,),
    LedgerKind.spend: (-1, 0),
    LedgerKind.claim_paid: (0,),
}


class LedgerRefused(ValueError):
    """A movement the ledger does not take (wrong sign, another fund's key reused...)."""


@dataclass(frozen=True)
class Movement:
    kind: LedgerKind
    amount_minor: int
    key: str
    actor: str  # the audit actor: "user:<id>", "workflow:<id>", "system"
    gross_minor: int = 0
    paid_minor: int = 0
    channel: str = ""
    quantity: int = 0
    partner_campaign_id: int | None = None
    print_order_id: int | None = None
    claim_id: int | None = None
    note: str = ""
    by_user_id: int | None = None


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


def post(session: Session, fund: Fund, m: Movement) -> FundLedgerEntry:
    """Append `m` to the fund's ledger (idempotent by key) and audit it, in the caller's
    transaction; returns the row (the earlier one when the key was used before)."""
    assert fund.id is not None
    existing = session.exec(
        select(FundLedgerEntry).where(
            FundLedgerEntry.fund_id == fund.id, FundLedgerEntry.key == m.key
        )
    ).first()
    if existing is not None:
        return existing
    if _sign(m.amount_minor) not in SIGNS[m.kind]:
        raise LedgerRefused(f"a {m.kind.value} cannot move {m.amount_minor} (minor units)")
    if m.gross_minor < 0 or m.paid_minor < 0:
        raise LedgerRefused("gross and paid amounts are never negative")
    entry = FundLedgerEntry(
        fund_id=fund.id,
        brand_id=fund.brand_id,
        partner_id=fund.partner_id,
        kind=m.kind,
        amount_minor=m.amount_minor,
        gross_minor=m.gross_minor,
        paid_minor=m.paid_minor,
        channel=m.channel,
        quantity=m.quantity,
        partner_campaign_id=m.partner_campaign_id,
        print_order_id=m.print_order_id,
        claim_id=m.claim_id,
        key=m.key,
        note=m.note,
        by_user_id=m.by_user_id,
    )
    session.add(entry)
    session.flush()
    append_in(
        session,
        NewEvent(
            brand_id=fund.brand_id,
            region_id=fund.region_id,
            partner_id=fund.partner_id,
            actor=m.actor,
            action=f"fund.{m.kind.value}",
            entity_type="fund",
            entity_id=str(fund.id),
            event_key=f"fund-{fund.id}-{m.key}",
            after={
                "entry": entry.id,
                "amount_minor": m.amount_minor,
                "gross_minor": m.gross_minor,
                "paid_minor": m.paid_minor,
                "currency": fund.currency,
                "channel": m.channel,
                "quantity": m.quantity,
                "partner_campaign_id": m.partner_campaign_id,
                "print_order_id": m.print_order_id,
                "claim_id": m.claim_id,
            },
            comment=m.note or None,
        ),
    )
    return entry


@dataclass(frozen=True)
class Balance:
    """A fund's money by bucket (minor units), all sums over its ledger."""

    allocated: int
    reserved: int  # held by approvals not yet booked or released
    spent: int  # HQ's share of booked spend
    paid: int  # paid out on approved claims
    available: int  # allocated - reserved - spent == the sum of every amount

    @property
    def unpaid(self) -> int:
        return self.spent - self.paid


def _balance_of(sums: dict[LedgerKind, tuple[int, int]]) -> Balance:
    def amount(kind: LedgerKind) -> int:
        return sums.get(kind, (0, 0))[0]

    allocated = amount(LedgerKind.allocation)
    reserved = -(amount(LedgerKind.reservation) + amount(LedgerKind.release))
    spent = -amount(LedgerKind.spend)
    paid = sums.get(LedgerKind.claim_paid, (0, 0))[1]
    return Balance(
        allocated=allocated,
        reserved=reserved,
        spent=spent,
        paid=paid,
        available=allocated - reserved - spent,
    )


def balances(session: Session, fund_ids: Iterable[int]) -> dict[int, Balance]:
    """Every fund's balance from one grouped query, so a page of funds costs one statement
    however long it is. A fund without rows (or unknown) gets a zero balance."""
    wanted = sorted(set(fund_ids))
    if not wanted:
        return {}
    rows = session.exec(
        select(
            FundLedgerEntry.fund_id,
            FundLedgerEntry.kind,
            func.coalesce(func.sum(FundLedgerEntry.amount_minor), 0),
            func.coalesce(func.sum(FundLedgerEntry.paid_minor), 0),
        )
        .where(col(FundLedgerEntry.fund_id).in_(wanted))
        .group_by(col(FundLedgerEntry.fund_id), col(FundLedgerEntry.kind))
    ).all()
    sums: dict[int, dict[LedgerKind, tuple[int, int]]] = {i: {} for i in wanted}
    for fund_id, kind, amount, paid in rows:
        sums[int(fund_id)][LedgerKind(kind)] = (int(amount), int(paid))
    return {i: _balance_of(s) for i, s in sums.items()}


def balance(session: Session, fund_id: int) -> Balance:
    return balances(session, [fund_id])[fund_id]


def fund_for(session: Session, partner_id: int, on: date) -> Fund | None:
    """The partner's fund whose period holds `on` (None: the partner has no co-op money then)."""
    return session.exec(
        select(Fund)
        .where(Fund.partner_id == partner_id, Fund.starts_on <= on, Fund.ends_on >= on)
        .order_by(col(Fund.starts_on).desc())
    ).first()


def share_of(gross_minor: int, coop_share_bp: int) -> int:
    """HQ's share of a cost, rounded half up to the minor unit (integers only)."""
    return (gross_minor * coop_share_bp + 5000) // 10000
