"""The demo brand tracks opens and clicks, so `make up` shows a tracked link and the events.

Off by default for real brands (consent may require it); the demo's members are fictional
and the embedded outbox stands in for their mailboxes. Switched on only while nobody at HQ
has set the switches (no `brand.tracking` audit event), so a re-seed keeps HQ's choice.
"""

from __future__ import annotations

from sqlmodel import Session, select

from models.audit import AuditEvent
from models.org import Brand

TRACKING_BRAND = "northwind"


def seed_demo_tracking(session: Session) -> bool:
    """True when the switches were turned on now."""
    brand = session.exec(select(Brand).where(Brand.slug == TRACKING_BRAND)).first()
    if brand is None or (brand.open_tracking and brand.click_tracking):
        return False
    chosen = session.exec(
        select(AuditEvent.id).where(
            AuditEvent.brand_id == brand.id, AuditEvent.action == "brand.tracking"
        )
    ).first()
    if chosen is not None:
        return False
    brand.open_tracking = True
    brand.click_tracking = True
    session.add(brand)
    session.flush()
    return True
