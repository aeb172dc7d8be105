"""The email to a brand's admins when one of its webhook endpoints was disabled.

Sent at most once per admin and disabling: the sent marker is an audit event keyed by the
disabling and the admin, written after the message went out (as activities.notifications
does: a crash between the two can send one message twice, never lose it).
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from core.settings import Settings
from mail.errors import SendError
from mail.message import compose
from mail.tags import make_tags
from mail.transport import MessageSender
from models.audit import AuditEvent
from models.org import Membership, User
from models.webhooks import WebhookEndpoint
from services import audit

log = logging.getLogger(__name__)
ACTION = "notification.sent"


def _admins(session: Session, brand_id: int) -> list[User]:
    return list(
        session.exec(
            select(User)
            .join(Membership, col(Membership.user_id) == col(User.id))
            .where(
                Membership.brand_id == brand_id,
                Membership.role == "brand_admin",
                Membership.scope_type == "brand",
                col(User.is_active),
            )
            .order_by(col(User.id))
        ).all()
    )


def notify_disabled(
    engine: Engine, settings: Settings, transport: MessageSender, endpoint_id: int
) -> int:
    """How many admins were told now; 0 when the endpoint is enabled again or gone."""
    with Session(engine) as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None or endpoint.enabled or endpoint.disabled_at is None:
            return 0
        admins = _admins(session, endpoint.brand_id)
        base = f"webhook_endpoint:{endpoint_id}:notice:{endpoint.disabled_at.isoformat()}"
        done = set(
            session.exec(
                select(AuditEvent.event_key).where(
                    col(AuditEvent.event_key).in_([f"{base}:{u.id}" for u in admins])
                )
            ).all()
        )
    sent = 0
    for admin in admins:
        key = f"{base}:{admin.id}"
        if key in done:
            continue
        msg = compose(
            sender=settings.email_from,
            to=[admin.email],
            subject="A webhook endpoint was disabled",
            text=(
                f"Brandrelay stopped sending to the webhook endpoint {endpoint.url} "
                f"(id {endpoint_id}): {endpoint.disabled_reason}.\n\n"
                "Events wait for it. Fix the receiver, then re-enable the endpoint "
                f"(PATCH /api/v1/webhooks/{endpoint_id} with enabled=true).\n"
            ),
        )
        try:
            transport.send(msg, tags=make_tags(brand=endpoint.brand_id))
        except SendError as err:
            log.warning("webhook disabled notice to user %s not sent: %s", admin.id, err)
            continue
        audit.append(
            lambda: Session(engine, expire_on_commit=False),
            audit.NewEvent(
                brand_id=endpoint.brand_id,
                actor=audit.SYSTEM_ACTOR,
                action=ACTION,
                entity_type="webhook_endpoint",
                entity_id=str(endpoint_id),
                event_key=key,
                after={"to_user": admin.id, "kind": "webhook_disabled"},
            ),
        )
        sent += 1
    return sent
