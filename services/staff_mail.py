"""Plain-text emails to the people who run a co-op process (approvers of a print order or a
claim, the GM reminded of a claim, whoever hears that a print vendor is late), each sent once.

"Once" is the audit trail's: the message goes out first and a `notification.sent` event keyed
per message and recipient after it. A lost marker sends one message twice; a marker written
before a send that failed would lose the message for good, so the order is never reversed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from core.settings import Settings
from i18n.translate import gettext as _
from mail.message import compose
from mail.tags import make_tags
from mail.transport import MessageSender
from models.approvals import Delegation
from models.audit import AuditEvent
from models.org import User
from services import audit
from services.notifications import one_line

# The action partner campaign notices write too (activities.notifications).
SENT_ACTION = "notification.sent"


@dataclass(frozen=True)
class About:
    """What the messages are about, as the audit trail files it."""

    brand_id: int
    region_id: int
    partner_id: int
    entity_type: str
    entity_id: int


@dataclass(frozen=True)
class StaffMail:
    user_id: int
    message: EmailMessage
    key: str  # the audit event key that marks it sent
    detail: dict[str, Any] = field(default_factory=dict)  # recorded with the marker


def active_users(session: Session, brand_id: int, ids: Iterable[int]) -> list[User]:
    """The brand's active users among `ids`, in user id order."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    return list(
        session.exec(
            select(User)
            .where(col(User.id).in_(wanted), col(User.is_active), User.brand_id == brand_id)
            .order_by(col(User.id))
        ).all()
    )


def stand_ins(session: Session, ids: Iterable[int], now: datetime) -> set[int]:
    """Who acts for any of `ids` under a delegation running at `now`."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    return set(
        session.exec(
            select(Delegation.delegate_id).where(
                col(Delegation.user_id).in_(wanted),
                col(Delegation.revoked_at).is_(None),
                col(Delegation.starts_at) <= now,
                col(Delegation.ends_at) > now,
            )
        ).all()
    )


def plain_notice(
    settings: Settings, user: User, subject: str, body: Sequence[str], portal_path: str
) -> EmailMessage:
    """ "Hello <name>," the body, a link into the portal and the signature; every line of
    people's text goes through one_line, so nothing typed can add headers or lines. In the
    current language: the callers compose inside services.speaking_to.speaking_to(user)."""
    name = one_line(user.full_name) or user.email
    url = f"{settings.public_base_url.rstrip('/')}{portal_path}"
    lines = [_("Hello %(name)s,", name=name), "", *body, "", url, "", "-- ", "Brandrelay"]
    local, _at, domain = user.email.rpartition("@")
    return compose(
        sender=settings.email_from,
        to=[Address(display_name=name, username=local, domain=domain)],
        subject=one_line(subject),
        text="\n".join(lines) + "\n",
        headers={"Auto-Submitted": "auto-generated"},
    )


def send_once(
    engine: Engine, transport: MessageSender, about: About, mails: Sequence[StaffMail]
) -> int:
    """Send the mails not marked sent yet; how many went out now."""
    with Session(engine) as session:
        done = set(
            session.exec(
                select(AuditEvent.event_key).where(
                    col(AuditEvent.event_key).in_([m.key for m in mails])
                )
            )
        )
    tags = make_tags(brand=about.brand_id, partner=about.partner_id)
    sent = 0
    for mail in mails:
        if mail.key in done:
            continue
        message_id = transport.send(mail.message, tags=tags)
        sent += 1
        audit.append(
            lambda: Session(engine, expire_on_commit=False),
            audit.NewEvent(
                brand_id=about.brand_id,
                region_id=about.region_id,
                partner_id=about.partner_id,
                actor=audit.SYSTEM_ACTOR,
                action=SENT_ACTION,
                entity_type=about.entity_type,
                entity_id=str(about.entity_id),
                event_key=mail.key,
                after={**mail.detail, "recipient": mail.user_id, "message_id": message_id},
            ),
        )
    return sent
