"""The email when the print vendor misses a step: to the partner's GM (the copies are theirs)
and the brand's admins (who chase the vendor). Plain text: the order's address is partner
text. Sent once per order, step and recipient (a `notification.sent` audit event marks it)."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage

from sqlalchemy import Engine
from sqlmodel import Session, select

from core.policy import Target
from core.settings import Settings
from domain.roles import Role
from i18n.formats import day, number
from i18n.translate import N_
from i18n.translate import gettext as _
from mail.transport import MessageSender
from models.org import Membership, User
from models.print_orders import PrintOrder
from services.approvals.facts import role_holders_at
from services.notifications import one_line
from services.speaking_to import local_time, speaking_to
from services.staff_mail import About, StaffMail, active_users, plain_notice, send_once

# What the vendor missed, as the email says it (the step names are the workflow's).
LATE_LINES = {
    "accepted": N_(
        "Print order %(order)s (%(quantity)s x %(format)s, vendor order %(vendor_order)s) was "
        "due to be accepted by %(due)s; the print vendor has not accepted it yet."
    ),
    "shipped": N_(
        "Print order %(order)s (%(quantity)s x %(format)s, vendor order %(vendor_order)s) was "
        "due to be shipped by %(due)s; the print vendor has not shipped it yet."
    ),
}
LATE_OTHER = N_(
    "Print order %(order)s (%(quantity)s x %(format)s, vendor order %(vendor_order)s) was due "
    "by %(due)s (%(missed)s); the print vendor is late."
)
SUBJECTS = {
    "accepted": N_("Print order %(order)s: the vendor has not accepted it"),
    "shipped": N_("Print order %(order)s: the vendor has not shipped it"),
}
SUBJECT_OTHER = N_("Print order %(order)s: the vendor is late (%(missed)s)")


def _due_text(due: str) -> str:
    """The ISO time the workflow passes, as the reader reads it; kept as given if unreadable."""
    try:
        moment = datetime.fromisoformat(due)
    except ValueError:
        return one_line(due)
    return local_time(moment)


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
    """In the current language and zone (send_late_notice speaks each recipient's)."""
    values = {
        "order": order.id,
        "quantity": number(order.quantity),
        "format": order.format,
        "vendor_order": one_line(order.vendor_order_id),
        "due": _due_text(due),
        "missed": one_line(missed),
    }
    body = [
        _(LATE_LINES.get(missed, LATE_OTHER), **values),
        _(
            "Delivery to: %(name)s, %(city)s, wanted by %(day)s.",
            name=one_line(order.recipient_name),
            city=one_line(order.city),
            day=day(order.wanted_by, "long"),
        ),
        "",
        _("The order:"),
    ]
    subject = _(SUBJECTS.get(missed, SUBJECT_OTHER), **values)
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
        mails = []
        for u in recipients(session, order):
            if u.id is None:
                continue
            with speaking_to(session, u):
                message = compose_late(settings, order, missed, due, u)
            mails.append(
                StaffMail(
                    u.id,
                    message,
                    sent_key(workflow_id, missed, u.id),
                    {"kind": f"vendor_late_{missed}"},
                )
            )
    about = About(order.brand_id, order.region_id, order.partner_id, "print_order", order_id)
    return send_once(engine, transport, about, mails)
