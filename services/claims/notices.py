"""The reminder to a partner's GMs that a drafted claim waits for them before its window
closes: plain text (the claim's label carries no partner text, but names do), once per
reminder and GM (the sent marker is a `notification.sent` audit event)."""

from __future__ import annotations

import logging
from decimal import Decimal
from email.message import EmailMessage

from babel.numbers import format_currency
from sqlalchemy import Engine
from sqlmodel import Session

from approvals.policy import ApproverRole
from content.dates import babel_locale
from core.policy import Target
from core.settings import Settings
from domain.money import ClaimState
from i18n.context import current_locale
from i18n.translate import gettext as _
from i18n.translate import ngettext
from mail.transport import MessageSender
from models.claims import Claim
from models.org import User
from services.approvals.facts import role_holders_at
from services.claims.export import decimal_text
from services.speaking_to import local_time, speaking_to
from services.staff_mail import About, StaffMail, active_users, plain_notice, send_once

log = logging.getLogger(__name__)


def sent_key(claim_id: int, days: int, user_id: int) -> str:
    return f"notice:claim-{claim_id}-remind-{days}:{user_id}"


def gms(session: Session, claim: Claim) -> list[User]:
    holders = role_holders_at(session, Target(claim.brand_id, claim.region_id, claim.partner_id))
    return active_users(session, claim.brand_id, holders.get(ApproverRole.partner_gm.value, []))


def compose_reminder(settings: Settings, claim: Claim, days: int, user: User) -> EmailMessage:
    """In the current language and zone (remind() speaks the GM's)."""
    amount = format_currency(
        Decimal(decimal_text(claim.claimed_minor)),
        claim.currency,
        locale=babel_locale(current_locale()),
    )
    body = [
        _(
            "Co-op claim %(claim)s (%(amount)s) waits for your confirmation.",
            claim=claim.id,
            amount=amount,
        ),
        ngettext(
            "Its claim window closes in %(num)d day (%(time)s);",
            "Its claim window closes in %(num)d days (%(time)s);",
            days,
            time=local_time(claim.window_closes_at),
        ),
        _("after that it expires and nothing is paid."),
        "",
        _("Check and confirm it in the portal:"),
    ]
    subject = _("Reminder: co-op claim %(claim)s waits for your confirmation", claim=claim.id)
    return plain_notice(settings, user, subject, body, f"/claims/{claim.id}")


def remind(
    engine: Engine, settings: Settings, transport: MessageSender, claim_id: int, days: int
) -> int:
    """Messages sent now (a claim no longer a draft reminds nobody)."""
    with Session(engine) as session:
        claim = session.get(Claim, claim_id)
        if claim is None or claim.state != ClaimState.draft:
            return 0
        session.expunge(claim)
        mails = []
        for u in gms(session, claim):
            if u.id is None:
                continue
            with speaking_to(session, u):
                message = compose_reminder(settings, claim, days, u)
            mails.append(
                StaffMail(u.id, message, sent_key(claim_id, days, u.id), {"kind": "claim_reminder"})
            )
    about = About(claim.brand_id, claim.region_id, claim.partner_id, "claim", claim_id)
    sent = send_once(engine, transport, about, mails)
    log.info("claim %s reminder (%d days): %d messages", claim_id, days, sent)
    return sent
