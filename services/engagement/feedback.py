"""What SES tells us after a message left: bounces and complaints suppress the address for the
brand and mark the delivery; deliveries are recorded. Every event is matched to the ledger by
the delivery tag, else our Message-ID, else SES's message id; an event about a message we do
not know is ignored (it may be a notification email, or from another environment).

Each event also lands in the event table (services.engagement.events) under SES's
notification id, so SNS's redeliveries add it once; SES's kinds become the table's
(bounce -> bounced, complaint -> complained, delivery -> delivered; others keep SES's name)."""

from __future__ import annotations

from sqlmodel import Session, select

from domain.states import DeliveryStatus
from mail import tags as mail_tags
from mail.sns import SesFeedback
from models.base import utcnow
from models.delivery import Delivery, EventKind
from services import suppression
from services.engagement import events

SUPPRESSING = {"complaint": "complained"}
EVENT_KINDS = {
    "bounce": EventKind.bounced.value,
    "complaint": EventKind.complained.value,
    "delivery": EventKind.delivered.value,
}


def event_key(feedback: SesFeedback, row: Delivery) -> str:
    """The same notification redelivered gets the same key; without SNS's id (never seen in
    practice) SES's timestamp stands in."""
    seen = feedback.notification_id or feedback.timestamp.isoformat()
    return f"ses:{row.id}:{feedback.kind}:{seen}"


def find_delivery(session: Session, feedback: SesFeedback) -> Delivery | None:
    tagged = feedback.tags.get(mail_tags.DELIVERY, "")
    if tagged.isdigit():
        found = session.get(Delivery, int(tagged))
        if found is not None:
            return found
    for column, value in (
        (Delivery.message_id, feedback.message_id),
        (Delivery.provider_message_id, feedback.ses_message_id),
    ):
        if value:
            found = session.exec(select(Delivery).where(column == value)).first()
            if found is not None:
                return found
    return None


def apply(session: Session, feedback: SesFeedback) -> Delivery | None:
    """Record the event; suppress on a permanent bounce or a complaint. Idempotent for SNS's
    at-least-once delivery: suppression is idempotent and a repeated notification adds no
    second event row."""
    row = find_delivery(session, feedback)
    if row is None:
        return None
    reason = SUPPRESSING.get(feedback.kind)
    if feedback.kind == "bounce" and feedback.bounce_type == "Permanent":
        reason = "bounced"
    detail = feedback.bounce_subtype or feedback.bounce_type or ""
    kind = EVENT_KINDS.get(feedback.kind, feedback.kind[:32])
    described = "/".join(p for p in (feedback.bounce_type, feedback.bounce_subtype) if p)
    events.write(
        session,
        [
            events.for_delivery(
                row,
                kind,
                "ses",
                event_key(feedback, row),
                at=feedback.timestamp,
                detail=described or None,
            )
        ],
    )
    if reason is not None and row.email:
        suppression.suppress(
            session,
            row.brand_id,
            row.email,
            reason,
            f"ses {feedback.kind}",
            partner_id=row.partner_id,
        )
        if row.status == DeliveryStatus.sent and feedback.kind == "bounce":
            row.status = DeliveryStatus.failed
            row.permanent = True
            row.error = f"bounced ({detail or 'permanent'})"
            row.updated_at = utcnow()
            session.add(row)
    session.commit()
    return row
