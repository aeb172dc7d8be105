"""The delivery ledger: snapshot a partner campaign's audience, then send it row by row.

Exactly once, as far as a provider without idempotency keys allows: a row is marked `sending`
(committed) before the message is handed over and `sent` (committed) right after, and at most
`SEND_CONCURRENCY` rows of a send are between the two at any time (hand-overs overlap; see
docs/sending-speed.md). A crash in that window leaves those rows in `sending`; the retry sends
them again, so a crash costs at most one duplicate per message in flight, and the Message-ID
is derived from the row id so a duplicate is recognisable. Rows already `sent` are never
picked.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from queue import Queue
from typing import Any

from sqlalchemy import Engine, func
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from content.blocks import RenderedBlocks
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
from models.contacts import Channel, Contact
from models.delivery import Delivery
from models.org import Brand, Partner, as_profile
from models.templates import TemplateVersion
from models.workflow_io import SendPause
from services import asset_publication, brand_blocks, suppression
from services.engagement import tracking
from services.engagement.preferences import preferences_url, sample_preferences_url
from services.engagement.tracking import Tracking
from services.engagement.unsubscribe import list_unsubscribe_headers, unsubscribe_url
from services.sender import SenderIdentity, identity_for
from services.templates import content_of, validation_context
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
    *,
    sms: bool = False,
) -> int:
    """Insert a pending row for each contact that has none yet; returns rows inserted.
    Idempotent: a retried snapshot inserts nothing twice (and the unique key would refuse).
    With an SMS variant (`sms`), a contact preferring SMS gets an SMS row with its number
    (services.segments decided it may be texted; the batch checks again before sending)."""
    assert pc.id is not None
    have = set(
        session.exec(select(Delivery.contact_id).where(Delivery.partner_campaign_id == pc.id)).all()
    )
    inserted = 0
    for chunk in _chunks((i for i in contact_ids if i not in have), CHUNK):
        contacts = session.exec(select(Contact).where(col(Contact.id).in_(chunk))).all()
        for contact in contacts:
            texted = sms and contact.channel == Channel.sms.value and bool(contact.phone)
            session.add(
                Delivery(
                    partner_campaign_id=pc.id,
                    brand_id=pc.brand_id,
                    partner_id=pc.partner_id,
                    contact_id=contact.id,
                    email=contact.email,
                    channel=Channel.sms.value if texted else Channel.email.value,
                    phone=(contact.phone or "") if texted else "",
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
    rendered_blocks: RenderedBlocks | None = None

    def blocks(self, session: Session) -> RenderedBlocks:
        """The brand header and footer, once per batch: finding (and, for an approved send,
        publishing) the logo takes queries that no message should repeat."""
        if self.rendered_blocks is None:
            image_url = brand_blocks.block_image_url(
                session,
                self.settings,
                self.pc.brand_id,
                publish=self.pc.state in asset_publication.PUBLISHING_STATES,
            )
            self.rendered_blocks = brand_blocks.blocks_for(session, self.version, image_url)
        return self.rendered_blocks

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
            # A per-language value the partner left empty in `locale`: the campaign's language.
            ctx = ctx.model_copy(update={"fallback_locale": self.pc.locale})
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
    (services.engagement.tracking; real deliveries of a brand that tracks only)."""
    locale = recipient["locale"]
    render_ctx = {
        "partner": as_profile(ctx.partner),
        "recipient": recipient,
        "unsubscribe_url": unsubscribe,
        "preferences_url": preferences or sample_preferences_url(ctx.settings),
        "brand": {"name": ctx.brand.name, "palette": list(ctx.brand.palette)},
        "campaign": {"name": ctx.campaign.name},
        "blocks": ctx.blocks(session),
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
    throttled: int = 0  # hand-overs the provider refused as too fast (retried or put back)
    cut_short: bool = False  # a run of throttles outlasted the budget: not the end of a pass
    late: str | None = None  # past send_by and its grace: the send stops, nothing more goes


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
                Delivery.channel == Channel.email.value,  # SMS rows: services.sms.delivery
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


def late_reason(send_by: datetime, now: datetime, grace: int) -> str | None:
    """Why a batch must not start now, or None: a message about an open day that has passed
    (after a long outage, a restored backup) is worse than none."""
    due = send_by if send_by.tzinfo else send_by.replace(tzinfo=UTC)
    if now <= due + timedelta(seconds=grace):
        return None
    return (
        f"too late to send: the send deadline ({due:%Y-%m-%d %H:%M} UTC) passed more than "
        f"{grace / 3600:g} h ago; nothing more goes out"
    )


@dataclass
class Pace:
    """How a batch keeps to the shared rate. `reserve(n)`: seconds to wait before n more
    messages may go (mail.rate_limit.reserve at the current rate); `throttled(seconds)`: the
    provider said "too fast" (hold every worker that long when it said how long; the rate
    may drop), `succeeded()`: a message went (the rate recovers); `chunk()`: how
    many messages one reservation covers (about a second's worth, at most CHECK_CHUNK)."""

    reserve: Callable[[int], float] = lambda n: 0.0
    throttled: Callable[[float], None] = lambda seconds: None
    succeeded: Callable[[], None] = lambda: None
    chunk: Callable[[], int] = lambda: CHECK_CHUNK


RETRY_FIRST_WAIT = 0.05  # seconds before a message refused as too fast (without a hint) or by
RETRY_MAX_WAIT = 10.0  # a provider blip goes again; doubles per refusal of it, up to this
UNAVAILABLE_RETRIES = 3  # "unavailable" in a row (no message through) before the send pauses


def send_batch(
    engine: Engine,
    settings: Settings,
    transport: MessageSender,
    partner_campaign_id: int,
    limit: int,
    *,
    after_id: int = 0,
    pace: Pace | None = None,
    progress: Callable[[int], None] = lambda row_id: None,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchResult:
    """Send up to `limit` rows that are not final, after row `after_id`, in id order, with up
    to `settings.send_concurrency` hand-overs in flight at once.

    Suppression and contacts are looked up per chunk (one query each instead of one per
    message) and the shared rate limit is reserved per chunk too. Messages are composed in
    this thread (one database session); only the hand-over runs in the pool. `progress`
    heartbeats as rows are done.

    What goes wrong is sorted by whom it concerns. One recipient (its message cannot be
    composed or rendered, the provider refuses it for now or for good): that row records the
    reason and, after MAX_ATTEMPTS, fails, while the batch goes on. The account (throttled):
    the row goes back to pending, every worker holds for what the provider asked (or a short
    growing wait), the rate is lowered and the message is tried again in this batch; only a
    run of throttles longer than `settings.send_throttle_budget` ends the batch early (with
    what was sent: the workflow goes on at once, at the lowered rate). The account or sender
    refused as a whole: the send pauses for people to act. The platform underneath (outbox
    storage, database, provider unreachable): the batch stops with a `fault` and the workflow
    pauses and probes until it clears. Nothing is lost either way: a row is final only once
    its outcome is committed."""
    pace = pace or Pace()
    result = BatchResult(last_id=after_id)
    try:
        with (
            Session(engine, expire_on_commit=False) as session,
            _Window(session, transport, settings, result, pace, progress, sleep) as window,
        ):
            ctx = load_context(session, settings, partner_campaign_id)
            result.late = late_reason(ctx.campaign.send_by, utcnow(), settings.send_late_grace)
            if result.late is not None:
                return result
            window.ctx = ctx
            rows = _open_rows(session, partner_campaign_id, after_id, limit)
            result.seen = len(rows)
            window.expect(rows)
            offset = 0
            while offset < len(rows) and not window.stopped:
                size = max(1, pace.chunk())
                _send_chunk(session, ctx, window, rows[offset : offset + size], pace, sleep)
                offset += size
            window.drain()
    except (TransportUnavailableError, *DATABASE_FAULTS) as err:
        result.fault = describe_fault(err)
    return result


def _send_chunk(
    session: Session,
    ctx: SendContext,
    window: _Window,
    rows: list[Delivery],
    pace: Pace,
    sleep: Callable[[float], None],
) -> None:
    """Check one chunk against suppression, reserve its slots, compose and hand it over."""
    blocked = suppression.suppressed_among(
        session, ctx.pc.brand_id, [r.email for r in rows if r.email]
    )
    ids = [r.contact_id for r in rows if r.contact_id]
    contacts = {c.id: c for c in session.exec(select(Contact).where(col(Contact.id).in_(ids)))}
    # Usually about a second; longer when a provider asked every worker to hold. Heartbeat
    # meanwhile, so a long hold is not taken for a dead worker.
    end = time.monotonic() + pace.reserve(len(rows))
    while (left := end - time.monotonic()) > 0:
        sleep(min(left, 1.0))
        window.progress(window.result.last_id)
    for row in rows:
        window.retry_due()
        if window.stopped:
            return
        if not row.email:  # the contact was erased after the snapshot
            _mark(session, row, DeliveryStatus.suppressed, error="contact erased")
            window.result.suppressed += 1
            window.done(row)
        elif row.email in blocked:
            _mark(session, row, DeliveryStatus.suppressed, error="suppressed before send")
            window.result.suppressed += 1
            window.done(row)
        else:
            msg = _compose(session, ctx, row, contacts.get(row.contact_id), window.result)
            if msg is None:
                window.done(row)
            else:
                window.add(row, msg)


def _compose(
    session: Session, ctx: SendContext, row: Delivery, contact: Contact | None, result: BatchResult
) -> EmailMessage | None:
    """The row's message, or None when it cannot be built (recorded on the row)."""
    try:
        return compose_delivery(session, ctx, row, contact)
    except DATABASE_FAULTS:
        raise
    except Exception as err:  # this recipient's message cannot be built: address, rendering
        row.attempts += 1
        reason = _reason(f"composition: {type(err).__name__}: {err}", row)
        _recipient_failed(session, row, result, reason, permanent=isinstance(err, InvalidRecipient))
        return None


@dataclass
class _Flight:
    row: Delivery
    msg: EmailMessage
    attempts: int  # before this hand-over: a throttle or a pause gives the attempt back
    tries: int = 0  # hand-overs of it refused as too fast or unavailable in this batch
    due: float = 0.0  # monotonic: not handed over again before


class _Window:
    """Up to `send_concurrency` hand-overs in flight, in a thread pool; every ledger write
    stays in the batch's thread.

    A row is committed `sending` before its hand-over and `sent` after it; marks of rows that
    start or finish together share one commit. At most `send_concurrency` rows of a send are
    ever `sending`, so a kill duplicates at most that many messages (each with its row's
    Message-ID). Each slot has its own sender from `transport.session()` (one SMTP
    connection per slot: smtplib is not thread-safe)."""

    def __init__(
        self,
        session: Session,
        transport: MessageSender,
        settings: Settings,
        result: BatchResult,
        pace: Pace,
        progress: Callable[[int], None],
        sleep: Callable[[float], None],
    ) -> None:
        self.session = session
        self.transport = transport
        self.size = settings.send_concurrency
        self.budget = settings.send_throttle_budget
        self.result = result
        self.pace = pace
        self.progress = progress
        self.sleep = sleep
        self.ctx: SendContext | None = None
        self.group = max(1, self.size // 4)  # marks committed together
        self.waiting: list[_Flight] = []  # composed, not yet marked `sending`
        self.flying: dict[Future[str], _Flight] = {}
        self.retry: list[_Flight] = []  # refused for now: handed over again once `due`
        self.resume_at = 0.0  # monotonic: no hand-over before (the provider said how long)
        self.throttled_since: float | None = None  # first throttle since the last success
        self.unavailable = 0  # "unavailable" refusals since the last success
        self.stopped = False
        self.error: BaseException | None = None
        self._order: list[int] = []
        self._done: set[int] = set()
        self._prefix = 0
        self._senders: Queue[MessageSender] = Queue()
        self._stack = ExitStack()
        self._pool = ThreadPoolExecutor(self.size, thread_name_prefix="send")

    def __enter__(self) -> _Window:
        for _ in range(self.size):
            self._senders.put(self._stack.enter_context(open_session(self.transport)))
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped = True
        try:
            self._pool.shutdown(wait=True, cancel_futures=True)
        finally:
            self._stack.close()

    def expect(self, rows: list[Delivery]) -> None:
        self._order = [r.id or 0 for r in rows]

    def done(self, row: Delivery) -> None:
        """The row is final or pending for a later pass: the cursor may pass it."""
        self._done.add(row.id or 0)
        while self._prefix < len(self._order) and self._order[self._prefix] in self._done:
            self.result.last_id = self._order[self._prefix] or self.result.last_id
            self._prefix += 1

    # Handing over ------------------------------------------------------------------------

    def add(self, row: Delivery, msg: EmailMessage) -> None:
        self.waiting.append(_Flight(row, msg, row.attempts))
        self._collect(block=False)
        if len(self.waiting) >= self.group or not self.flying:
            self._launch()

    def retry_due(self) -> None:
        """Throttled messages go again first, once the provider's wait is over."""
        now = time.monotonic()
        due = [f for f in self.retry if f.due <= now]
        if due and not self.stopped:
            self.retry = [f for f in self.retry if f.due > now]
            for f in due:
                f.attempts = f.row.attempts
            self.waiting.extend(due)
        if self.waiting and len(self.waiting) >= self.group:
            self._launch()

    def _launch(self) -> None:
        """Mark the waiting rows `sending` in one commit (never more than `size` at once)
        and hand them over."""
        while self.waiting and not self.stopped:
            while len(self.flying) >= self.size:
                self._collect(block=True)
                if self.stopped:
                    return
            wait = self.resume_at - time.monotonic()
            if wait > 0:
                self._pause_for(wait)
            take = self.waiting[: self.size - len(self.flying)]
            del self.waiting[: len(take)]
            now = utcnow()
            for f in take:
                f.row.status = DeliveryStatus.sending
                f.row.attempts = f.attempts + 1
                f.row.updated_at = now
                self.session.add(f.row)
            self.session.commit()
            assert self.ctx is not None
            for f in take:
                self.flying[self._pool.submit(self._hand_over, f, tags_for(self.ctx, f.row))] = f

    def _hand_over(self, flight: _Flight, tags: dict[str, str]) -> str:
        sender = self._senders.get()
        try:
            return sender.send(flight.msg, tags=tags)
        finally:
            self._senders.put(sender)

    def _pause_for(self, seconds: float) -> None:
        """Wait for the provider, heartbeating, while hand-overs in flight finish."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if self.flying:
                self._collect(block=True, timeout=min(left, 1.0))
            else:
                self.sleep(min(left, 1.0))
            self.progress(self.result.last_id)

    def drain(self) -> None:
        """Send what is left (throttled messages included), then wait for every hand-over."""
        while not self.stopped:
            if self.waiting:
                self._launch()
            elif self.retry:
                self._pause_for(min(f.due for f in self.retry) - time.monotonic())
                self.retry_due()
                self._launch()
            elif self.flying:
                self._collect(block=True)  # a throttled one comes back to `retry`
            else:
                break
        while self.flying:
            self._collect(block=True)
        if self.error is not None:
            raise self.error

    # Outcomes ----------------------------------------------------------------------------

    def _collect(self, *, block: bool, timeout: float | None = None) -> None:
        """Record every hand-over that has finished (waiting for one when `block`)."""
        if not self.flying:
            return
        if block:
            finished, _ = wait(self.flying, timeout=timeout, return_when=FIRST_COMPLETED)
        else:
            finished = {f for f in self.flying if f.done()}
        if not finished:
            return
        flights = [(self.flying.pop(f), f) for f in finished]
        flights.sort(key=lambda pair: pair[0].row.id or 0)
        final = [flight.row for flight, future in flights if self._outcome(flight, future)]
        self.session.commit()
        for row in final:  # the cursor passes a row only once its outcome is committed
            self.done(row)
        self.progress(self.result.last_id)

    def _outcome(self, flight: _Flight, future: Future[str]) -> bool:
        """One hand-over's outcome, staged on the session (the caller commits); True when
        the row is done with for this batch (final, or pending for a later pass)."""
        row, result = flight.row, self.result
        try:
            provider_id = future.result()
        except TransportPausedError as err:
            self._put_back(flight, _reason(err, row))
            if result.paused is None:
                result.paused = _reason(err, row)
            self.stopped = True
            return False
        except PermanentSendError as err:
            _recipient_failed(self.session, row, result, _reason(err, row), permanent=True)
            return True
        except ThrottledError as err:
            self._throttled(flight, err)
            return False
        except TransportUnavailableError as err:
            # No recipient is to blame. A blip (one 503) is tried again after a short wait;
            # a run of them pauses the send. The failure reaches the workflow's history and
            # the pause: without the address, and without the original exception chained.
            self._put_back(flight, _reason(err, row))
            self.unavailable += 1
            if self.unavailable <= UNAVAILABLE_RETRIES:
                self._again(flight, None)
                return False
            if self.error is None:
                self.error = TransportUnavailableError(
                    err.code, without_addresses(err.reason, row.email), err.retry_after
                )
            self.stopped = True
            return False
        except TransientSendError as err:
            _recipient_failed(self.session, row, result, _reason(err, row), permanent=False)
            return True
        except Exception as err:  # a bug: the row stays `sending`, as a kill would leave it
            if self.error is None:
                self.error = err
            self.stopped = True
            return False
        row.status = DeliveryStatus.sent
        row.provider_message_id = provider_id[:200]
        row.message_id = str(flight.msg["Message-ID"])
        row.sent_at = row.updated_at = utcnow()
        row.error = None
        self.session.add(row)
        result.sent += 1
        self.throttled_since = None
        self.unavailable = 0
        self.pace.succeeded()
        return True

    def _put_back(self, flight: _Flight, reason: str) -> None:
        """Pending again, the attempt given back: the account, not this recipient."""
        row = flight.row
        row.status = DeliveryStatus.pending
        row.attempts = flight.attempts
        row.error = reason
        row.updated_at = utcnow()
        self.session.add(row)

    def _throttled(self, flight: _Flight, err: ThrottledError) -> None:
        """Try the message again after the provider's wait (held for every worker) or a
        short growing one, and tell the pace (which lowers the rate when throttles are most
        of what it hears); a run of throttles past the budget ends the batch early."""
        self._put_back(flight, _reason(err, flight.row))
        now = time.monotonic()
        if self.throttled_since is None:
            self.throttled_since = now
        self.result.throttled += 1
        self.pace.throttled(err.retry_after or 0.0)
        if now - self.throttled_since >= self.budget:
            # The rows put back wait for the next batch, which goes at once.
            self.stopped = self.result.cut_short = True
            return
        if err.retry_after:
            self.resume_at = max(self.resume_at, now + err.retry_after)
        self._again(flight, err.retry_after)

    def _again(self, flight: _Flight, after: float | None) -> None:
        flight.tries += 1
        wait_s = after or min(RETRY_FIRST_WAIT * 2 ** (flight.tries - 1), RETRY_MAX_WAIT)
        flight.due = time.monotonic() + wait_s
        self.retry.append(flight)


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


def _reason(err: object, row: Delivery) -> str:
    return without_addresses(str(err), row.email)[:1000]
