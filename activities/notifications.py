"""Sending a partner campaign's notification emails, at most once per notice and recipient.

The sent marker is an audit event keyed f"notice:{notice.key}:{user_id}" (no table of its
own): recipients whose marker exists are skipped, so a retried activity sends only what the
failed attempt did not. The message goes out first and the marker is written after, because
a marker for a message that then failed to send would lose the email for good; the price is
a tiny window (sent, then the process dies before the marker commits) in which a retry sends
that one message twice.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.settings import Settings
from mail.tags import make_tags
from mail.transport import MessageSender
from models.audit import AuditEvent
from models.workflow_io import PartnerNotice
from services import audit
from services.notifications import UnknownNotice, plan

log = logging.getLogger(__name__)
SENT_ACTION = "notification.sent"
_MAX_KEY = 200  # AuditEvent.event_key


def sent_key(notice: PartnerNotice, user_id: int) -> str:
    key = f"notice:{notice.key}:{user_id}"
    if len(key) <= _MAX_KEY:
        return key
    digest = hashlib.sha256(notice.key.encode()).hexdigest()
    return f"notice:{digest}:{user_id}"


def send_partner_notice(
    engine: Engine, settings: Settings, transport: MessageSender, notice: PartnerNotice
) -> int:
    """Send what this notice asks for and is not sent yet; the number of messages sent now."""
    with Session(engine) as session:
        outgoing = plan(session, settings, notice)
        keys = [sent_key(notice, o.recipient.user_id) for o in outgoing]
        done = set(
            session.exec(select(AuditEvent.event_key).where(col(AuditEvent.event_key).in_(keys)))
        )
    tags = make_tags(
        brand=notice.brand_id,
        campaign=notice.campaign_id,
        partner=notice.partner.partner_id,
        partner_campaign=notice.partner.partner_campaign_id,
    )
    sent = 0
    for item, key in zip(outgoing, keys, strict=True):
        if key in done:
            continue
        message_id = transport.send(item.message, tags=tags)
        sent += 1
        audit.append(
            lambda: Session(engine, expire_on_commit=False),
            audit.NewEvent(
                brand_id=notice.brand_id,
                region_id=notice.partner.region_id,
                partner_id=notice.partner.partner_id,
                actor=audit.SYSTEM_ACTOR,
                action=SENT_ACTION,
                entity_type="partner_campaign",
                entity_id=str(notice.partner.partner_campaign_id),
                event_key=key,
                after={
                    "kind": notice.kind,
                    "stage": notice.stage,
                    "recipient": item.recipient.user_id,
                    "message_id": message_id,
                    "action_links": item.recipient.may_decide,
                },
            ),
        )
    log.info("notice %s: %d of %d messages sent now", notice.key, sent, len(outgoing))
    return sent


class NotificationActivities:
    """Sync: SMTP and SES calls block, so they run on the worker's activity thread pool."""

    def __init__(self, engine: Engine, settings: Settings, transport: MessageSender) -> None:
        self._engine = engine
        self._settings = settings
        self._transport = transport

    @activity.defn(name="notify_partner_campaign")
    def notify_partner_campaign(self, notice: PartnerNotice) -> int:
        try:
            return send_partner_notice(self._engine, self._settings, self._transport, notice)
        except UnknownNotice as err:
            raise ApplicationError(str(err), type="unknown_notice", non_retryable=True) from err
