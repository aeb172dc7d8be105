"""The vendor's status callbacks, after their signature was checked: recorded once per event
id (a duplicate is acknowledged and ignored) and turned into the workflow's signal."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.print_order_io import VendorStatus
from models.print_orders import PrintOrder, PrintVendorCallback
from printing.vendor import VendorEvent


@dataclass(frozen=True)
class Recorded:
    order: PrintOrder | None  # None: no order of ours (the event is kept, nothing else)
    duplicate: bool
    status: VendorStatus


def _status(event: VendorEvent) -> VendorStatus:
    payload = event.payload
    order = payload.get("order") if isinstance(payload.get("order"), dict) else {}
    assert isinstance(order, dict)
    invoice = payload.get("invoice_minor")
    proof = order.get("proof_of_delivery")
    return VendorStatus.model_validate(
        {
            "event_id": event.event_id,
            "status": event.status,
            "tracking_number": str(order.get("tracking_number") or "")[:80],
            "tracking_url": str(order.get("tracking_url") or "")[:500],
            "invoice_minor": invoice if isinstance(invoice, int) and invoice >= 0 else None,
            "proof_of_delivery": (
                {str(k)[:40]: str(v)[:200] for k, v in proof.items()}
                if isinstance(proof, dict)
                else {}
            ),
        }
    )


def record(session: Session, vendor: str, event: VendorEvent) -> Recorded:
    """Insert the event (in the caller's transaction); a second delivery of it is a duplicate."""
    status = _status(event)
    conditions = [col(PrintOrder.vendor_order_id) == event.order_id]
    if event.reference:
        conditions.append(col(PrintOrder.vendor_key) == event.reference)
    order = session.exec(
        select(PrintOrder).where(PrintOrder.vendor == vendor, or_(*conditions))
    ).first()
    row = PrintVendorCallback(
        vendor=vendor,
        event_id=event.event_id,
        print_order_id=order.id if order is not None else None,
        status=event.status,
        payload=event.payload,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return Recorded(order, duplicate=True, status=status)
    return Recorded(order, duplicate=False, status=status)
