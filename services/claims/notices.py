"""The reminder to a partner's GMs that a drafted claim waits for them before its window
closes: plain text (the claim's label carries no partner text, but names do), once per
reminder and GM (the sent marker is a `notification.sent` audit event)."""

from __future__ import annotations

import logging
from email.headerregistry import Address
from email.message import EmailMessage

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from activities.notifications import SENT_ACTION
from approvals.policy import ApproverRole
from core.policy import Target
from core.settings import Settings
from domain.money import ClaimState
from mail.message import compose
from mail.tags import make_tags
from mail.transport import MessageSender
from models.audit import AuditEvent
from models.claims import Claim
from models.org import User
from services import audit
from services.approvals.chain_tasks import role_holders_at
from services.claims.export import decimal_text
from services.notifications import one_line

log = logging.getLogger(__name__)


def sent_key(claim_id: int, days: int, user_id: int) -> str:
    return f"notice:claim-{claim_id}-remind-{days}:{user_id}"


def gms(session: Session, claim: Claim) -> list[User]:
    holders = role_holders_at(session, Target(claim.brand_id, claim.region_id, claim.partner_id))
    ids = holders.get(ApproverRole.partner_gm.value, [])
    if not ids:
        return []
    return list(session.exec(select(User).where(col(User.id).in_(ids)).order_by(col(User.id))))


def compose_reminder(settings: Settings, claim: Claim, days: int, user: User) -> EmailMessage:
    name = one_line(user.full_name) or user.email
    url = f"{settings.public_base_url.rstrip('/')}/claims/{claim.id}"
    amount = f"{claim.currency} {decimal_text(claim.claimed_minor)}"
    text = "\n".join(
        [
            f"Hello {name},",
            "",
            f"Co-op claim {claim.id} ({amount}) waits for your confirmation.",
            f"Its claim window closes in {days} days ({claim.window_closes_at:%Y-%m-%d} UTC);",
            "after that it expires and nothing is paid.",
            "",
            f"Check and confirm it in the portal: {url}",
            "",
            "-- ",
            "Brandrelay",
        ]
    )
    local, _, domain = user.email.rpartition("@")
    return compose(
        sender=settings.email_from,
        to=[Address(display_name=name, username=local, domain=domain)],
        subject=f"Reminder: co-op claim {claim.id} waits for your confirmation",
        text=text + "\n",
        headers={"Auto-Submitted": "auto-generated"},
    )


def remind(
    engine: Engine, settings: Settings, transport: MessageSender, claim_id: int, days: int
) -> int:
    """Messages sent now (a claim no longer a draft reminds nobody). The message goes first,
    the marker after: a lost marker sends one message twice, never none."""
    with Session(engine) as session:
        claim = session.get(Claim, claim_id)
        if claim is None or claim.state != ClaimState.draft:
            return 0
        session.expunge(claim)
        users = [u for u in gms(session, claim) if u.id is not None]
        keys = [sent_key(claim_id, days, u.id or 0) for u in users]
        done = set(
            session.exec(select(AuditEvent.event_key).where(col(AuditEvent.event_key).in_(keys)))
        )
    sent = 0
    for user in users:
        key = sent_key(claim_id, days, user.id or 0)
        if key in done:
            continue
        message_id = transport.send(
            compose_reminder(settings, claim, days, user),
            tags=make_tags(brand=claim.brand_id, partner=claim.partner_id),
        )
        sent += 1
        audit.append(
            lambda: Session(engine, expire_on_commit=False),
            audit.NewEvent(
                brand_id=claim.brand_id,
                region_id=claim.region_id,
                partner_id=claim.partner_id,
                actor=audit.SYSTEM_ACTOR,
                action=SENT_ACTION,
                entity_type="claim",
                entity_id=str(claim_id),
                event_key=key,
                after={"kind": "claim_reminder", "recipient": user.id, "message_id": message_id},
            ),
        )
    log.info("claim %s reminder (%d days): %d messages", claim_id, days, sent)
    return sent
