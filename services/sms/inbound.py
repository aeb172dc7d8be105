"""What an inbound STOP does: the number is suppressed at once by every brand that texted it.

A reply reaches one shared sending number and names no brand, so the decision is: every brand
with a Delivery row on the SMS channel to that number suppresses it (reason "stop"), on behalf
of the partner whose SMS reached it last (whose contact data the entry is). A brand that never
texted the number learns nothing of it. A reply that is no stop word is recorded nowhere.

A replay of the same SNS notification changes nothing: the audit event of each suppression is
keyed by the notification's MessageId, and a brand whose key is present is skipped (so even an
entry removed by hand since is not brought back by the replay).
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from mail.sms_inbound import InboundSms
from models.audit import AuditEvent
from models.contacts import PhoneSuppression, SuppressionReason
from models.delivery import Delivery
from services.sms.suppression import suppress_phone

SOURCE = "sms reply"


def brands_that_texted(session: Session, phone: str) -> dict[int, int]:
    """{brand id: partner id of the latest SMS to the number} over SMS delivery rows."""
    latest = session.exec(
        select(Delivery.brand_id, func.max(Delivery.id))
        .where(Delivery.phone == phone, Delivery.channel == "sms")
        .group_by(col(Delivery.brand_id))
    ).all()
    found: dict[int, int] = {}
    for brand_id, delivery_id in latest:
        row = session.get(Delivery, delivery_id)
        if row is not None:
            found[brand_id] = row.partner_id
    return found


def event_key(notification_id: str, brand_id: int) -> str:
    return f"sms-inbound:{notification_id}:{brand_id}"[:200]


def apply_stop(session: Session, sms: InboundSms) -> list[PhoneSuppression]:
    """Suppress the replying number for every brand that texted it; the entries (new or
    already there). Nothing for a reply that is no stop word or a replayed notification."""
    if not sms.is_stop:
        return []
    rows: list[PhoneSuppression] = []
    for brand_id, partner_id in sorted(brands_that_texted(session, sms.origination).items()):
        key = event_key(sms.notification_id, brand_id)
        seen = session.exec(select(AuditEvent.id).where(AuditEvent.event_key == key)).first()
        if seen is not None:
            continue
        rows.append(
            suppress_phone(
                session,
                brand_id,
                sms.origination,
                SuppressionReason.stop,
                partner_id=partner_id,
                source=SOURCE,
                detail=f"replied {sms.keyword}",
                event_key=key,
            )
        )
    return rows
