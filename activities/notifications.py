"""Sending a partner campaign's notification emails, at most once per notice and recipient.

The sent marker is an audit event keyed f"notice:{notice.key}:{user_id}" (no table of its
own): recipients whose marker exists are skipped, so a retried activity sends only what the
failed attempt did not. The message goes out first and the marker is written after, because
a marker for a message that then failed to send would lose the email for good; the price is
a tiny window (sent, then the process dies before the marker commits) in which a retry sends
that one message twice. Invitations sent in batches derive each Message-ID from the marker key
(and the row's creation time), so the outbox, which writes a Message-ID once, does not even
then.

Invitations of a launch are sent in one activity per start page (`invite_partners`), with the
same keys the partner workflow would use (`<workflow id>:1:invited`), so whichever asks second
finds the marker. Markers are written MARKER_CHUNK to a transaction (one lock of the audit chain
each), and the ones already sent are written before an error is raised.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.settings import Settings
from domain.states import PERSONALISING, PartnerCampaignState
from mail.tags import make_tags
from mail.transport import MessageSender
from models.audit import AuditEvent
from models.campaigns import PartnerCampaign
from models.org import Partner, as_profile
from models.workflow_io import InvitePartners, PartnerNotice, PartnerRef
from services import audit
from services.notifications import INVITED, Outgoing, Recipient, UnknownNotice, plan
from services.staff_mail import SENT_ACTION as SENT_ACTION  # bench and tests read it here

log = logging.getLogger(__name__)
_MAX_KEY = 200  # AuditEvent.event_key
MARKER_CHUNK = 50


def sent_key(notice: PartnerNotice, user_id: int) -> str:
    key = f"notice:{notice.key}:{user_id}"
    if len(key) <= _MAX_KEY:
        return key
    digest = hashlib.sha256(notice.key.encode()).hexdigest()
    return f"notice:{digest}:{user_id}"


def message_id_for(settings: Settings, key: str, salt: str) -> str:
    """The Message-ID of the message whose sent marker is `key`: the same on every retry.
    `salt` (the partner campaign row's creation time) tells apart a database that was reset
    and hands the same ids, hence the same keys, out again: the outbox writes a Message-ID
    only once, and would otherwise keep the old database's message."""
    digest = hashlib.sha256(f"{key}|{salt}".encode()).hexdigest()[:40]
    domain = settings.email_from.rpartition("@")[2].strip(" >") or "brandrelay.invalid"
    return f"<notice.{digest}@{domain}>"


def _planned(
    session: Session, settings: Settings, notice: PartnerNotice, salt: str | None = None
) -> list[tuple[Outgoing, str]]:
    """The messages of a notice, each with its sent-marker key; with a `salt`, each message's
    Message-ID is derived from its key (message_id_for), else fresh."""
    outgoing = plan(
        session,
        settings,
        notice,
        message_id=None
        if salt is None
        else lambda r: message_id_for(settings, sent_key(notice, r.user_id), salt),
    )
    return [(o, sent_key(notice, o.recipient.user_id)) for o in outgoing]


def _tags(notice: PartnerNotice) -> dict[str, str]:
    return make_tags(
        brand=notice.brand_id,
        campaign=notice.campaign_id,
        partner=notice.partner.partner_id,
        partner_campaign=notice.partner.partner_campaign_id,
    )


def _marker(notice: PartnerNotice, recipient: Recipient, key: str, mid: str) -> audit.NewEvent:
    return audit.NewEvent(
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
            "recipient": recipient.user_id,
            "message_id": mid,
            "action_links": recipient.may_decide,
        },
    )


def send_partner_notice(
    engine: Engine, settings: Settings, transport: MessageSender, notice: PartnerNotice
) -> int:
    """Send what this notice asks for and is not sent yet; the number of messages sent now."""
    with Session(engine) as session:
        outgoing = _planned(session, settings, notice)
        keys = [key for _, key in outgoing]
        done = set(
            session.exec(select(AuditEvent.event_key).where(col(AuditEvent.event_key).in_(keys)))
        )
    tags = _tags(notice)
    sent = 0
    for item, key in outgoing:
        if key in done:
            continue
        message_id = transport.send(item.message, tags=tags)
        sent += 1
        audit.append(
            lambda: Session(engine, expire_on_commit=False),
            _marker(notice, item.recipient, key, message_id),
        )
    log.info("notice %s: %d of %d messages sent now", notice.key, sent, len(outgoing))
    return sent


def invitation(batch: InvitePartners, row: PartnerCampaign, partner: Partner) -> PartnerNotice:
    """The notice a partner workflow opened by the fan-out would have asked for."""
    return PartnerNotice(
        kind=INVITED,
        key=f"{row.workflow_id}:1:{INVITED}",  # timeline length 1 (open), as the workflow's
        campaign_id=batch.campaign_id,
        campaign_name=batch.campaign_name,
        brand_id=batch.brand_id,
        partner=PartnerRef(
            partner_campaign_id=row.id or 0,
            partner_id=row.partner_id,
            region_id=row.region_id,
            locale=row.locale,
            profile=as_profile(partner),
        ),
        stage=PartnerCampaignState.drafting.value,
        due_at=batch.personalise_until,
    )


def send_invitations(
    engine: Engine, settings: Settings, transport: MessageSender, batch: InvitePartners
) -> int:
    """The invitations of one start page: every partner campaign still personalising (news of
    a cancelled or declined one is moot) whose invitation is not marked sent; the number of
    messages sent now."""
    todo: list[tuple[PartnerNotice, Outgoing, str]] = []
    with Session(engine) as session:
        rows = session.exec(
            select(PartnerCampaign, Partner)
            .where(
                col(PartnerCampaign.id).in_(batch.partner_campaign_ids),
                PartnerCampaign.partner_id == Partner.id,
            )
            .order_by(col(PartnerCampaign.id))
        ).all()
        for row, partner in rows:
            if row.state not in PERSONALISING or row.state == PartnerCampaignState.invited:
                continue
            notice = invitation(batch, row, partner)
            salt = row.created_at.isoformat()
            todo += [(notice, o, key) for o, key in _planned(session, settings, notice, salt)]
        keys = [key for _, _, key in todo]
        done = set(
            session.exec(select(AuditEvent.event_key).where(col(AuditEvent.event_key).in_(keys)))
        )
    markers: list[audit.NewEvent] = []
    try:
        for notice, item, key in todo:
            if key in done:
                continue
            mid = transport.send(item.message, tags=_tags(notice))
            markers.append(_marker(notice, item.recipient, key, mid))
            if len(markers) % MARKER_CHUNK == 0:
                _write_markers(engine, markers[-MARKER_CHUNK:])
    finally:
        _write_markers(engine, markers[len(markers) - len(markers) % MARKER_CHUNK :])
    log.info("invitations: %d of %d messages sent now", len(markers), len(todo))
    return len(markers)


def _write_markers(engine: Engine, markers: list[audit.NewEvent]) -> None:
    """Sent markers in one transaction (append_in skips a key already written)."""
    if not markers:
        return
    for _ in range(20):
        with Session(engine, expire_on_commit=False) as session:
            try:
                audit.begin_write(session)
                for marker in markers:
                    audit.append_in(session, marker)
                session.commit()
                return
            except IntegrityError:
                session.rollback()
    raise RuntimeError(f"could not write {len(markers)} sent markers: kept losing audit races")


class NotificationActivities:
    """Sync: SMTP and SES calls block, so they run on the worker's activity thread pool."""

    def __init__(self, engine: Engine, settings: Settings, transport: MessageSender) -> None:
        self._engine = engine
        self._settings = settings
        self._transport = transport

    @activity.defn(name="invite_partners")
    def invite_partners(self, batch: InvitePartners) -> int:
        return send_invitations(self._engine, self._settings, self._transport, batch)

    @activity.defn(name="notify_partner_campaign")
    def notify_partner_campaign(self, notice: PartnerNotice) -> int:
        try:
            return send_partner_notice(self._engine, self._settings, self._transport, notice)
        except UnknownNotice as err:
            raise ApplicationError(str(err), type="unknown_notice", non_retryable=True) from err
