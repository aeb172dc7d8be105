"""The email when the print vendor misses a step: to the partner's GM (the copies are theirs)
and the brand's admins (who chase the vendor). Plain text: the order's address is partner
text. Sent once per order, step and recipient (a `notification.sent` audit event marks it)."""

from __future__ import annotations

from email.message import EmailMessage

from sqlalchemy import Engine
from sqlmodel import Session, select

from core.policy import Target
from core.settings import Settings
from domain.roles import Role
from mail.transport import MessageSender
from models.org import Membership, User
from models.print_orders import PrintOrder
from services.approvals.facts import role_holders_at
from services.notifications import one_line
from services.staff_mail import About, StaffMail, active_users, plain_notice, send_once

WHAT = {
    "accepted": "has not accepted it",
    "shipped": "has not shipped it",
}


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
    return active_users(session, order.brand_id, ids)


def compose_late(
    settings: Settings, order: PrintOrder, missed: str, due: str, user: User
) -> EmailMessage:
    body = [
        f"Print order {order.id} ({order.quantity} x {order.format}, vendor order "
        f"{one_line(order.vendor_order_id)}) was due to be {missed} by {due} UTC; the "
        f"print vendor {WHAT.get(missed, 'is late')} yet.",
        f"Delivery to: {one_line(order.recipient_name)}, {one_line(order.city)}, "
        f"wanted by {order.wanted_by.isoformat()}.",
        "",
        "The order:",
    ]
    subject = f"Print order {order.id}: the vendor is late ({missed})"
    return plain_notice(settings, user, subject, body, f"/print-orders/{order.id}")


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
    """How many messages went out now (each recipient once per order and missed step)."""
    with Session(engine, expire_on_commit=False) as session:
        order = session.get(PrintOrder, order_id)
        if order is None:
            return 0
        mails = [
            StaffMail(
                u.id,
                compose_late(settings, order, missed, due, u),
                sent_key(workflow_id, missed, u.id),
                {"kind": f"vendor_late_{missed}"},
            )
            for u in recipients(session, order)
            if u.id is not None
        ]
    about = About(order.brand_id, order.region_id, order.partner_id, "print_order", order_id)
    return send_once(engine, transport, about, mails)
