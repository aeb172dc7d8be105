"""The delivery ledger: snapshot a partner campaign's audience, then send it row by row.

Exactly once, as far as a provider without idempotency keys allows: a row is marked `sending`
(committed) before the message is handed over and `sent` (committed) right after, and only one
row of a send is between the two at any time. A crash in that window leaves one row in
`sending`; the retry sends it again, so a crash costs at most one duplicate, and the Message-ID
is derived from the row id so a duplicate is recognisable. Rows already `sent` are never picked.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Engine, func
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from content.render import render_email
from content.spec import TemplateContent
from content.validate import resolve_values
from core.errors import Problem
from core.settings import Settings
from core.temporal import TemporalUnreachable
from domain.states import DELIVERY_FINAL, DeliveryStatus, PartnerCampaignState
from domain.workflow_ids import send_workflow_id
from mail.errors import (
    PermanentSendError,
    ThrottledError,
    TransientSendError,
    TransportPausedError,
    TransportUnavailableError,
)
from mail.message import compose, parse_address
from mail.redact import without_addresses
from mail.tags import make_tags
from mail.transport import MessageSender, open_session
from models.base import utcnow
from models.campaigns import Campaign, PartnerCampaign
from models.contacts import Contact
from models.delivery import Delivery
from models.org import Brand, Partner, as_profile
from models.templates import TemplateVersion
from models.workflow_io import SendPause
from services import asset_publication, brand_blocks, suppression, tracking
from services.preferences import preferences_url, sample_preferences_url
from services.sender import SenderIdentity, identity_for
from services.templates import content_of, validation_context
from services.tracking import Tracking
from services.unsubscribe import list_unsubscribe_headers, unsubscribe_url
from workflows.send import RUNNING, SendWorkflow

CHUNK = 500  # ledger rows inserted per statement
MAX_ATTEMPTS = 5  # failures of one recipient (composition, refusals for now) before it fails
CHECK_CHUNK = 50  # rows checked against suppression (and rate-reserved) together
# A query waits for a worker to answer; with none running it would hold a page for 10 s.
QUERY_TIMEOUT = timedelta(seconds=2)


def message_id_for(delivery: Delivery, domain: str) -> str:
    """Derived from the row: a message sent twice after a crash carries the same id."""
    return f"<d{delivery.id}.pc{delivery.partner_campaign_id}@{domain}>"


# Snapshot ---------------------------------------------------------------------------------------


def snapshot(
    session: Session,
    pc: PartnerCampaign,
    contact_ids: Iterable[int],
    progress: Callable[[int], None] = lambda inserted: None,
) -> int:
    """Insert a pending row for each contact that has none yet; returns rows inserted.
    Idempotent: a retried snapshot inserts nothing twice (and the unique key would refuse)."""
    assert pc.id is not None
    have = set(
        session.exec(select(Delivery.contact_id).where(Delivery.partner_campaign_id == pc.id)).all()
    )
    inserted = 0
    for chunk in _chunks((i for i in contact_ids if i not in have), CHUNK):
        contacts = session.exec(select(Contact).where(col(Contact.id).in_(chunk))).all()
        for contact in contacts:
            session.add(
                Delivery(
                    partner_campaign_id=pc.id,
                    brand_id=pc.brand_id,
                    partner_id=pc.partner_id,
                    contact_id=contact.id,
                    email=contact.email,
                )
            )
        session.commit()
        inserted += len(contacts)
        progress(inserted)
    return inserted


def _chunks(items: Iterable[int], size: int) -> Iterator[list[int]]:
    chunk: list[int] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def counts(session: Session, partner_campaign_id: int) -> dict[str, int]:
    rows = session.exec(
        select(Delivery.status, func.count())
        .where(Delivery.partner_campaign_id == partner_campaign_id)
        .group_by(Delivery.status)
    ).all()
    found = {status: int(n) for status, n in rows}
    return {s.value: found.get(s.value, 0) for s in DeliveryStatus}


@dataclass(frozen=True)
class Progress:
    """A send's progress from the ledger, as the API and the portal both show it."""

    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def queued(self) -> int:
        """Rows not sent yet (pending or in flight)."""
        return self.counts.get(DeliveryStatus.pending, 0) + self.counts.get(
            DeliveryStatus.sending, 0
        )

    @property
    def done(self) -> int:
        return self.total - self.queued

    @property
    def share(self) -> float:
        """Share of the ledger that is final, 0..1."""
        return self.done / self.total if self.total else 0.0


def progress_of(session: Session, partner_campaign_id: int) -> Progress:
    return Progress(counts(session, partner_campaign_id))


def progress_by_partner_campaign(session: Session, ids: list[int]) -> dict[int, Progress]:
    """One grouped query for a campaign's partner list; ids without ledger rows are left out."""
    if not ids:
        return {}
    rows = session.exec(
        select(Delivery.partner_campaign_id, Delivery.status, func.count())
        .where(col(Delivery.partner_campaign_id).in_(ids))
        .group_by(col(Delivery.partner_campaign_id), col(Delivery.status))
    ).all()
    found: dict[int, dict[str, int]] = {}
    for pc_id, status, n in rows:
        found.setdefault(pc_id, {s.value: 0 for s in DeliveryStatus})[status] = int(n)
    return {pc_id: Progress(c) for pc_id, c in found.items()}


def _stripped(pause: SendPause | None) -> SendPause | None:
    """Sends paused before refusals were stripped of addresses may still hold one."""
    if pause is None:
        return None
    return pause.model_copy(update={"reason": without_addresses(pause.reason)})


async def current_pause(
    connect: Callable[[], Awaitable[Client]], row: PartnerCampaign
) -> SendPause | None:
    """Why the partner campaign's send waits; None when it runs, when there is no send (only
    a `sending` campaign has one: no round trip otherwise) or when Temporal cannot answer now
    (the counts come from the database and stay readable). Read from the send's `pause`
    memo: the frontend answers that without a worker, so a pause stays visible while every
    worker is down (a query would wait for one). Sends started before the memo existed
    answer the query instead."""
    if row.state != PartnerCampaignState.sending or row.id is None:
        return None
    try:
        handle = (await connect()).get_workflow_handle(send_workflow_id(row.id))
        described = await handle.describe(rpc_timeout=QUERY_TIMEOUT)
        memo = await described.memo_value("pause", None)
        if memo is None:  # started before the memo existed
            found: SendPause | None = await handle.query(
                SendWorkflow.pause, rpc_timeout=QUERY_TIMEOUT
            )
            return _stripped(found)
    except (RPCError, Problem, WorkflowQueryFailedError, TemporalUnreachable):
        return None
    pause = None if memo == RUNNING else SendPause.model_validate(memo)
    return _stripped(pause)


# Composing ------------------------------------------------------------------------------------


@dataclass
class SendContext:
    """What every message of one partner campaign shares, loaded once per batch."""

    pc: PartnerCampaign
    campaign: Campaign
    version: TemplateVersion
    content: TemplateContent
    partner: Partner
    brand: Brand
    settings: Settings
    identity: SenderIdentity  # From, Reply-To, Message-ID domain (services.sender)
    resolved: dict[str, dict[str, Any]] = field(default_factory=dict)  # by locale

    def slots(self, session: Session, locale: str) -> dict[str, Any]:
        if locale not in self.resolved:
            today = utcnow().date()
            ctx = validation_context(
                session,
                self.pc.brand_id,
                self.partner,
                locale,
                None,
                None,
                content=self.content,
                values=dict(self.pc.values),
                today=today,
            )
            resolved = resolve_values(self.content, dict(self.pc.values), ctx)
            # Asset slots become images at their published URLs (services.asset_publication).
            self.resolved[locale] = asset_publication.for_send(
                session,
                self.settings,
                self.content,
                resolved,
                brand_id=self.pc.brand_id,
                state=self.pc.state,
            )
        return self.resolved[locale]


def load_context(session: Session, settings: Settings, partner_campaign_id: int) -> SendContext:
    pc = session.get(PartnerCampaign, partner_campaign_id)
    if pc is None:
        raise LookupError(f"partner campaign {partner_campaign_id} does not exist")
    campaign = session.get(Campaign, pc.campaign_id)
    assert campaign is not None
    version = session.get(TemplateVersion, campaign.template_version_id)
    partner = session.get(Partner, pc.partner_id)
    brand = session.get(Brand, pc.brand_id)
    assert version is not None and partner is not None and brand is not None
    return SendContext(
        pc=pc,
        campaign=campaign,
        version=version,
        content=content_of(version),
        partner=partner,
        brand=brand,
        settings=settings,
        identity=identity_for(session, settings, partner),
    )


class InvalidRecipient(ValueError):
    """The row's address breaks the one address rule (it reached the ledger before the rule
    or around it): no attempt will ever send it."""


def recipient_vars(first_name: str, name: str, email: str, locale: str) -> dict[str, str]:
    """What a template sees as `recipient` (content.lint lists the names it may use)."""
    return {"first_name": first_name, "name": name, "email": email, "locale": locale}


def compose_for(
    session: Session,
    ctx: SendContext,
    *,
    to: Address,
    recipient: dict[str, str],
    unsubscribe: str,
    message_id: str,
    now: datetime | None = None,
    headers: dict[str, str] | None = None,
    preferences: str | None = None,
    track: Tracking | None = None,
) -> EmailMessage:
    """The partner's approved content in `recipient["locale"]`, HTML and text, with the
    unsubscribe link and RFC 8058 headers: a recipient's message, or its redrawn copy with
    placeholders (services.withheld). `preferences` is the recipient's preference-centre link
    (a sample page when None); `track` rewrites the HTML's links and adds the open pixel
    (services.tracking; real deliveries of a brand that tracks only)."""
    locale = recipient["locale"]
    render_ctx = {
        "partner": as_profile(ctx.partner),
        "recipient": recipient,
        "unsubscribe_url": unsubscribe,
        "preferences_url": preferences or sample_preferences_url(ctx.settings),
        "brand": {"name": ctx.brand.name, "palette": list(ctx.brand.palette)},
        "campaign": {"name": ctx.campaign.name},
        "blocks": brand_blocks.blocks_for(
            session,
            ctx.version,
            brand_blocks.block_image_url(
                session,
                ctx.settings,
                ctx.pc.brand_id,
                publish=ctx.pc.state in asset_publication.PUBLISHING_STATES,
            ),
        ),
    }
    key = f"version-{ctx.version.id}-{ctx.version.updated_at.isoformat()}-{locale}"
    email = render_email(key, ctx.content, ctx.slots(session, locale), render_ctx)
    html = track.apply(email.html) if track is not None else email.html
    return compose(
        sender=ctx.identity.sender,
        reply_to=ctx.identity.reply_to,
        to=[to],
        subject=email.subject,
        text=email.text,
        html=html,
        headers={
            **list_unsubscribe_headers(unsubscribe),
            **ctx.identity.headers(ctx.settings),
            **(headers or {}),
        },
        message_id=message_id,
        now=now,
    )


def compose_delivery(
    session: Session, ctx: SendContext, delivery: Delivery, contact: Contact | None
) -> EmailMessage:
    """One recipient's message: the recipient's locale and name, a Message-ID derived from the
    row, the recipient's own unsubscribe link."""
    try:
        to = parse_address(delivery.email, "to")
    except ValueError as err:
        raise InvalidRecipient(str(err)) from err
    locale = (contact.locale if contact else None) or ctx.pc.locale
    unsubscribe = unsubscribe_url(
        ctx.settings,
        brand_id=ctx.pc.brand_id,
        partner_id=ctx.pc.partner_id,
        contact_id=delivery.contact_id or 0,
        delivery_id=str(delivery.id),
    )
    name = (contact.name if contact else "") or ""
    return compose_for(
        session,
        ctx,
        to=to,
        recipient=recipient_vars(name.split(" ")[0] if name else "", name, delivery.email, locale),
        unsubscribe=unsubscribe,
        message_id=message_id_for(delivery, ctx.identity.domain),
        preferences=preferences_url(
            ctx.settings, ctx.pc.brand_id, ctx.pc.partner_id, delivery.contact_id or 0
        ),
        track=tracking.for_brand(ctx.settings, ctx.brand, delivery.id),
    )


# Sending ---------------------------------------------------------------------------------------


@dataclass
class BatchResult:
    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    paused: str | None = None  # the transport's refusal that paused the send (people must act)
    fault: str | None = None  # storage, database or provider down: the send waits and probes
    retry_later: int = 0  # rows left pending after a failure of their own, for a later pass
    last_id: int = 0  # the cursor: the next batch starts after this row
    seen: int = 0  # rows this batch looked at (fewer than the limit: the end was reached)


# Faults of the platform underneath, not of any recipient: the send pauses and probes.
DATABASE_FAULTS = (OperationalError, InterfaceError, PoolTimeoutError)


def _mark(session: Session, row: Delivery, status: DeliveryStatus, **changes: Any) -> None:
    row.status = status
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.add(row)
    session.commit()


def tags_for(ctx: SendContext, delivery: Delivery) -> dict[str, str]:
    return make_tags(
        brand=ctx.pc.brand_id,
        campaign=ctx.pc.campaign_id,
        partner=ctx.pc.partner_id,
        partner_campaign=ctx.pc.id,
        delivery=str(delivery.id),
    )


def _open_rows(
    session: Session, partner_campaign_id: int, after_id: int, limit: int
) -> list[Delivery]:
    """Rows not final after the cursor, in id order: keyset paging, so batch n costs what
    batch 1 costs (no rescanning of rows already sent)."""
    return list(
        session.exec(
            select(Delivery)
            .where(
                Delivery.partner_campaign_id == partner_campaign_id,
                col(Delivery.id) > after_id,
                col(Delivery.status).not_in([s.value for s in DELIVERY_FINAL]),
            )
            .order_by(col(Delivery.id))
            .limit(limit)
        ).all()
    )


def describe_fault(err: BaseException) -> str:
    """One line for the API, the portal and the audit trail: what failed, in plain words (and
    no address: partners and HQ read it)."""
    if isinstance(err, TransportUnavailableError):
        where = "the outbox" if err.code.startswith("outbox.") else "the email service"
        text = f"{where} cannot take messages now ({err.code}: {err.reason})"
    elif isinstance(err, DATABASE_FAULTS):
        detail = str(getattr(err, "orig", None) or err).splitlines()[0]
        text = f"the database cannot be written now ({type(err).__name__}: {detail})"
    else:
        text = f"{type(err).__name__}: {err}"
    return without_addresses(text)[:1000]


def send_batch(
    engine: Engine,
    settings: Settings,
    transport: MessageSender,
    partner_campaign_id: int,
    limit: int,
    *,
    after_id: int = 0,
    reserve: Callable[[int], float] = lambda n: 0.0,
    progress: Callable[[int], None] = lambda row_id: None,
) -> BatchResult:
    """Send up to `limit` rows that are not final, after row `after_id`, in id order.

    Suppression and contacts are looked up per chunk of CHECK_CHUNK rows just before that
    chunk goes (one query each instead of one per message), and the shared rate limit is
    reserved per chunk too (`reserve(n)` answers how long to wait). `progress(row_id)`
    heartbeats after every message.

    What goes wrong is sorted by whom it concerns. One recipient (its message cannot be
    composed or rendered, the provider refuses it for now or for good): that row records the
    reason and, after MAX_ATTEMPTS, fails, while the batch goes on. The account (throttled):
    the row goes back and the batch raises, so the activity retries with backoff. The
    account or sender refused as a whole: the send pauses for people to act. The platform
    underneath (outbox storage, database, provider unreachable): the batch stops with a
    `fault` and the workflow pauses and probes until it clears. Nothing is lost either way:
    a row is final only once its outcome is committed."""
    result = BatchResult(last_id=after_id)
    try:
        with (
            Session(engine, expire_on_commit=False) as session,
            open_session(transport) as sender,
        ):
            ctx = load_context(session, settings, partner_campaign_id)
            rows = _open_rows(session, partner_campaign_id, after_id, limit)
            result.seen = len(rows)
            for offset in range(0, len(rows), CHECK_CHUNK):
                chunk = rows[offset : offset + CHECK_CHUNK]
                if _send_chunk(session, ctx, sender, chunk, result, reserve, progress):
                    break
    except (TransportUnavailableError, *DATABASE_FAULTS) as err:
        result.fault = describe_fault(err)
    return result


def _send_chunk(
    session: Session,
    ctx: SendContext,
    sender: MessageSender,
    rows: list[Delivery],
    result: BatchResult,
    reserve: Callable[[int], float],
    progress: Callable[[int], None],
) -> bool:
    """Send one chunk; True when the transport paused the send."""
    blocked = suppression.suppressed_among(
        session, ctx.pc.brand_id, [r.email for r in rows if r.email]
    )
    ids = [r.contact_id for r in rows if r.contact_id]
    contacts = {c.id: c for c in session.exec(select(Contact).where(col(Contact.id).in_(ids)))}
    wait = reserve(len(rows))
    if wait > 0:
        time.sleep(wait)
    for row in rows:
        if not row.email:  # the contact was erased after the snapshot
            _mark(session, row, DeliveryStatus.suppressed, error="contact erased")
            result.suppressed += 1
        elif row.email in blocked:
            _mark(session, row, DeliveryStatus.suppressed, error="suppressed before send")
            result.suppressed += 1
        else:
            paused = _send_one(session, ctx, sender, row, contacts.get(row.contact_id), result)
            if paused:
                return True
        result.last_id = row.id or result.last_id
        progress(result.last_id)
    return False


def _recipient_failed(
    session: Session, row: Delivery, result: BatchResult, reason: str, *, permanent: bool
) -> None:
    """A failure of this recipient alone: final when permanent or out of attempts, else
    pending again for a later pass. The attempt was counted when the row was taken."""
    if permanent or row.attempts >= MAX_ATTEMPTS:
        _mark(session, row, DeliveryStatus.failed, error=reason[:1000], permanent=permanent)
        result.failed += 1
    else:
        _mark(session, row, DeliveryStatus.pending, error=reason[:1000])
        result.retry_later += 1


def _send_one(
    session: Session,
    ctx: SendContext,
    sender: MessageSender,
    row: Delivery,
    contact: Contact | None,
    result: BatchResult,
) -> bool:
    """pending -> sending (committed) -> hand-over -> sent (committed); True when paused.

    A refusal's text is kept without addresses (mail.redact): it goes to the ledger, the
    workflow's history, the audit trail and the pause notice to HQ."""
    attempts = row.attempts
    try:
        msg = compose_delivery(session, ctx, row, contact)
    except DATABASE_FAULTS:
        raise
    except Exception as err:  # this recipient's message cannot be built: address, rendering
        row.attempts = attempts + 1
        reason = _reason(f"composition: {type(err).__name__}: {err}", row)
        _recipient_failed(session, row, result, reason, permanent=isinstance(err, InvalidRecipient))
        return False
    _mark(session, row, DeliveryStatus.sending, attempts=attempts + 1)
    try:
        provider_id = sender.send(msg, tags=tags_for(ctx, row))
    except TransportPausedError as err:
        reason = _reason(err, row)
        _mark(session, row, DeliveryStatus.pending, error=reason, attempts=attempts)
        result.paused = reason
        return True
    except PermanentSendError as err:
        _recipient_failed(session, row, result, _reason(err, row), permanent=True)
        return False
    except (ThrottledError, TransportUnavailableError) as err:
        # The account or the transport, not this recipient: its attempt does not count. The
        # failure reaches the workflow's history: without the address, and without the
        # original exception chained to it (Temporal records the cause as well).
        reason = _reason(err, row)
        _mark(session, row, DeliveryStatus.pending, error=reason, attempts=attempts)
        raise type(err)(
            err.code, without_addresses(err.reason, row.email), err.retry_after
        ) from None
    except TransientSendError as err:
        _recipient_failed(session, row, result, _reason(err, row), permanent=False)
        return False
    _mark(
        session,
        row,
        DeliveryStatus.sent,
        provider_message_id=provider_id[:200],
        message_id=str(msg["Message-ID"]),
        sent_at=utcnow(),
        error=None,
    )
    result.sent += 1
    return False


def _reason(err: object, row: Delivery) -> str:
    return without_addresses(str(err), row.email)[:1000]
