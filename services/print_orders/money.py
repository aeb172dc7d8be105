"""A print order's co-op money: HQ's share of the quote reserved at approval, released when
the order ends without delivery, and the invoiced spend booked at delivery (which releases the
reservation). Keys as docs/funds.md names them, so nothing is booked twice."""

from __future__ import annotations

from sqlmodel import Session, select

from domain.money import CostChannel, LedgerKind
from models.funds import Fund, FundLedgerEntry
from models.print_orders import PrintOrder
from services.funds import ledger


def _fund(session: Session, order: PrintOrder) -> Fund | None:
    """The order's fund when print is eligible in it (else the fund is not touched)."""
    if order.fund_id is None:
        return None
    fund = session.get(Fund, order.fund_id)
    if fund is None or CostChannel.print.value not in fund.eligible_channels:
        return None
    return fund


def _reservation(session: Session, fund: Fund, order_id: int) -> FundLedgerEntry | None:
    return session.exec(
        select(FundLedgerEntry).where(
            FundLedgerEntry.fund_id == fund.id, FundLedgerEntry.key == f"reserve-po-{order_id}"
        )
    ).first()


def reserve(session: Session, order: PrintOrder, actor: str) -> int:
    """Reserve HQ's share of the quote; what was reserved (0: no eligible fund)."""
    fund = _fund(session, order)
    if fund is None or order.id is None:
        return 0
    amount = ledger.share_of(order.quote_minor, fund.coop_share_bp)
    if amount <= 0:
        return 0
    entry = ledger.post(
        session,
        fund,
        ledger.Movement(
            kind=LedgerKind.reservation,
            amount_minor=-amount,
            key=f"reserve-po-{order.id}",
            actor=actor,
            gross_minor=order.quote_minor,
            channel=CostChannel.print.value,
            quantity=order.quantity,
            print_order_id=order.id,
            note=f"print order {order.id}: {order.quantity} x {order.format}",
        ),
    )
    return -entry.amount_minor


def release(session: Session, order: PrintOrder, actor: str, key_prefix: str = "release") -> int:
    """Give the reservation back (rejected, cancelled, failed; `booked` at delivery)."""
    fund = _fund(session, order)
    if fund is None or order.id is None:
        return 0
    held = _reservation(session, fund, order.id)
    if held is None:
        return 0
    ledger.post(
        session,
        fund,
        ledger.Movement(
            kind=LedgerKind.release,
            amount_minor=-held.amount_minor,
            key=f"{key_prefix}-po-{order.id}",
            actor=actor,
            channel=CostChannel.print.value,
            print_order_id=order.id,
        ),
    )
    return -held.amount_minor


def book_spend(session: Session, order: PrintOrder, actor: str) -> int:
    """Book HQ's share of the invoice (the quote when the vendor sent none) and release the
    reservation; the spend is booked even when the fund goes negative (it happened)."""
    fund = _fund(session, order)
    if fund is None or order.id is None:
        return 0
    gross = order.invoice_minor if order.invoice_minor is not None else order.quote_minor
    share = ledger.share_of(gross, fund.coop_share_bp)
    ledger.post(
        session,
        fund,
        ledger.Movement(
            kind=LedgerKind.spend,
            amount_minor=-share,
            key=f"spend-po-{order.id}",
            actor=actor,
            gross_minor=gross,
            channel=CostChannel.print.value,
            quantity=order.quantity,
            print_order_id=order.id,
            note=f"print order {order.id}: invoice {order.vendor_order_id}",
        ),
    )
    release(session, order, actor, key_prefix="booked")
    return share
