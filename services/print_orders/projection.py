"""The PrintOrderWorkflow's writes: each transition to the order's row with its audit event in
one transaction, idempotent by the event's key (a retried activity changes nothing)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models.audit import AuditEvent
from models.base import utcnow
from models.print_order_io import PrintProjection
from models.print_orders import PrintOrder
from services import audit

# The row's columns a transition may set (vendor data, the PDF, money).
SETTABLE = frozenset(
    {
        "quote_minor",
        "currency",
        "invoice_minor",
        "vendor_order_id",
        "vendor_due_at",
        "tracking_number",
        "tracking_url",
        "pdf_key",
        "pdf_sha256",
        "proof_of_delivery",
    }
)


def with_audit_retries(engine: Engine, key: str, write: Callable[[Session], None]) -> bool:
    """Run `write` in a transaction that appends the audit event keyed `key`; False when the
    key was written before (a retry of work done)."""
    for _ in range(20):
        with Session(engine, expire_on_commit=False) as session:
            try:
                audit.begin_write(session)
                if session.exec(select(AuditEvent.id).where(AuditEvent.event_key == key)).first():
                    return False
                write(session)
                session.commit()
                return True
            except IntegrityError:
                session.rollback()
    raise RuntimeError(f"could not write {key}: kept losing audit races")


def event_key(workflow_id: str, event: str) -> str:
    return f"{workflow_id}:{event}"


def _value(name: str, value: Any) -> Any:
    if name == "vendor_due_at" and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def project(engine: Engine, p: PrintProjection, workflow_id: str, run_id: str) -> None:
    key = event_key(workflow_id, p.event)

    def write(session: Session) -> None:
        order = session.get(PrintOrder, p.print_order_id)
        if order is None:
            raise LookupError(f"print order {p.print_order_id} does not exist")
        before = {"state": order.state.value}
        order.state = p.state
        for name, value in p.fields.items():
            if name not in SETTABLE:
                raise ValueError(f"a transition cannot set {name}")
            setattr(order, name, _value(name, value))
        if p.error:
            order.error = p.error[:1000]
        order.updated_at = utcnow()
        session.add(order)
        audit.append_in(
            session,
            audit.NewEvent(
                brand_id=order.brand_id,
                region_id=order.region_id,
                partner_id=order.partner_id,
                actor=p.actor,
                action=f"print_order.{p.event.split(':')[0]}",
                entity_type="print_order",
                entity_id=str(order.id),
                event_key=key,
                before=before,
                after={"state": p.state.value, **_jsonable(p.fields), "error": p.error or None},
                comment=p.comment or None,
                workflow_id=workflow_id,
                run_id=run_id,
            ),
        )

    with_audit_retries(engine, key, write)


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v.isoformat() if isinstance(v, datetime | date) else v
        for k, v in fields.items()
        if k != "proof_of_delivery"
    }
