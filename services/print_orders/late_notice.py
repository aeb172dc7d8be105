"""The email when the print vendor misses a step: to the partner's GM (the copies are theirs)
and the brand's admins (who chase the vendor). Plain text: the order's address is partner
text. Sent once per order, step and recipient (a `notification.sent` audit event marks it)."""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from core.policy import Target
from core.settings import Settings
from domain.roles import Role
from mail.message import compose
from mail.tags import make_tags
from mail.transport import MessageSender
from models.audit import AuditEvent
from models.org import Membership, User
from models.print_orders import PrintOrder
from services import audit
from services.approvals.chain_tasks import role_holders_at
from services.notifications import one_line

SENT_ACTION = "notification.sent"
WHAT = {
    "accepted": "has not accepted it",
    "shipped": "has not shipped it",
}


@dataclass(frozen=True)
class Outgoing:
    user_id: int
    message: EmailMessage


def recipients(session: Session, order: PrintOrder) -> list[User]:
    target = Target(order.brand_id, order.region_id, order.partner_id)
    ids = set(role_holders_at(session, target).get("partner_gm", []))
    ids.update(
        session.exec(
            select(Membership.user_id).where(
                Membership.brand_id == order.brand_id, Membership.role == Role.brand_admin.value
            )
        ).all()
    )
    if not ids:
        return []
    return list(
        session.exec(
            select(User)
            .where(col(User.id).in_(sorted(ids)), col(User.is_active))
            .where(User.brand_id == order.brand_id)
            .order_by(col(User.id))
        ).all()
    )


def compose_late(
    settings: Settings, order: PrintOrder, missed: str, due: str, user: User
) -> EmailMessage:
    name = one_line(user.full_name) or user.email
    url = f"{settings.public_base_url.rstrip('/')}/print-orders/{order.id}"
    text = "\n".join(
        [
            f"Hello {name},",
            "",
            f"Print order {order.id} ({order.quantity} x {order.format}, vendor order "
            f"{one_line(order.vendor_order_id)}) was due to be {missed} by {due} UTC; the "
            f"print vendor {WHAT.get(missed, 'is late')} yet.",
            f"Delivery to: {one_line(order.recipient_name)}, {one_line(order.city)}, "
            f"wanted by {order.wanted_by.isoformat()}.",
            "",
            f"The order: {url}",
            "",
            "-- ",
            "Brandrelay",
        ]
    )
    local, _, domain = user.email.rpartition("@")
    return compose(
        sender=settings.email_from,
        to=[Address(display_name=name, username=local, domain=domain)],
        subject=one_line(f"Print order {order.id}: the vendor is late ({missed})"),
        text=text + "\n",
        headers={"Auto-Submitted": "auto-generated"},
    )


def sent_key(workflow_id: str, missed: str, user_id: int) -> str:
    return f"notice:{workflow_id}:late-{missed}:{user_id}"


def send_late_notice(
    engine: Engine,
    settings: Settings,
    transport: MessageSender,
    order_id: int,
    missed: str,
    due: str,
    workflow_id: str,
) -> int:
    """The message first, its marker after (a lost marker sends one message twice; a marker
    before a failed send would lose it); how many went out now."""
    with Session(engine, expire_on_commit=False) as session:
        order = session.get(PrintOrder, order_id)
        if order is None:
            return 0
        outgoing = [
            Outgoing(u.id, compose_late(settings, order, missed, due, u))
            for u in recipients(session, order)
            if u.id is not None
        ]
        keys = [sent_key(workflow_id, missed, o.user_id) for o in outgoing]
        done = set(
            session.exec(select(AuditEvent.event_key).where(col(AuditEvent.event_key).in_(keys)))
        )
    tags = make_tags(brand=order.brand_id, partner=order.partner_id)
    sent = 0
    for item in outgoing:
        key = sent_key(workflow_id, missed, item.user_id)
        if key in done:
            continue
        message_id = transport.send(item.message, tags=tags)
        sent += 1
        audit.append(
            lambda: Session(engine, expire_on_commit=False),
            audit.NewEvent(
                brand_id=order.brand_id,
                region_id=order.region_id,
                partner_id=order.partner_id,
                actor=audit.SYSTEM_ACTOR,
                action=SENT_ACTION,
                entity_type="print_order",
                entity_id=str(order.id),
                event_key=key,
                after={
                    "kind": f"vendor_late_{missed}",
                    "recipient": item.user_id,
                    "message_id": message_id,
                },
            ),
        )
    return sent
