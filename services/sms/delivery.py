"""SMS rows of the delivery ledger: checked, composed and handed over one by one, never at
night in the partner's time zone.

The email batch (services.delivery.send_batch) takes only email rows; this takes the SMS rows
of the same ledger with the same rules: a row is committed `sending` before the hand-over and
`sent` after it, and its message id is derived from the row, so a row found in `sending` after
a crash goes again with the same id (the outbox SMS transport keeps one message per id; SNS
has no idempotency key, so there a crash between hand-over and commit costs at most one
duplicate). SMS volumes are small next to email: hand-overs go one at a time, at the SMS
transport's own rate (mail.rate_limit under its rate key).

Right before each hand-over the number is checked against the brand's phone suppressions and
the contact's SMS consent again (a STOP that arrived after the snapshot wins). A provider
answer "opted out" or "invalid number" suppresses the number for the brand at once.

Quiet hours: between SMS_QUIET_START and SMS_QUIET_END in the partner's time zone nothing is
handed over; the batch answers `quiet_until` (UTC) and the SendWorkflow waits on a durable
timer until then.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from content.render import render_sms
from content.sms_text import shorten_links, with_opt_out
from core.settings import Settings
from domain.states import DELIVERY_FINAL, DeliveryStatus
from mail.errors import (
    PermanentSendError,
    ThrottledError,
    TransientSendError,
    TransportPausedError,
    TransportUnavailableError,
)
from mail.redact import without_addresses
from mail.sms import INVALID_NUMBER, OPTED_OUT, SmsMessage, SmsSender
from models.base import utcnow
from models.contacts import Channel, ConsentStatus, Contact, SuppressionReason
from models.delivery import Delivery
from models.org import Partner, as_profile
from models.phones import country_of
from services.delivery import (
    DATABASE_FAULTS,
    MAX_ATTEMPTS,
    BatchResult,
    Pace,
    SendContext,
    describe_fault,
    late_reason,
    load_context,
    recipient_vars,
    tags_for,
)
from services.engagement.short_links import Collector, Shortener
from services.sms import suppression as sms_suppression

# Countries whose networks show an alphanumeric sender id (Partner.sms_sender_id); elsewhere
# (the US, Canada, ...) the message goes from the account's number and the id is left out.
SENDER_ID_COUNTRIES = frozenset(
    {"NL", "DE", "BE", "LU", "FR", "GB", "IE", "AT", "CH", "ES", "PT", "IT", "DK", "SE", "NO"}
    | {"FI", "PL", "AU", "NZ"}
)
THROTTLE_FIRST_WAIT = 0.05  # seconds before a throttled SMS (without a hint) goes again


@dataclass
class SmsBatchResult(BatchResult):
    quiet_until: datetime | None = None  # quiet hours at the partner: nothing goes before (UTC)


def zone_of(partner: Partner) -> ZoneInfo:
    try:
        return ZoneInfo(partner.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_until(
    now: datetime, zone: ZoneInfo, start: clock_time, end: clock_time
) -> datetime | None:
    """When quiet hours at `zone` end (UTC), or None when `now` is outside them. Quiet hours
    run from `start` to `end` local time, over midnight when start > end (21:00-09:00); equal
    times mean none. The end is a wall-clock time, so a change to or from summer time moves
    it in UTC, not locally."""
    if start == end:
        return None
    local = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(zone)
    t = local.time().replace(tzinfo=None)
    if start < end:
        quiet = start <= t < end
        day = local.date()
    else:
        quiet = t >= start or t < end
        day = local.date() + timedelta(days=1) if t >= start else local.date()
    if not quiet:
        return None
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


def describe_quiet(until: datetime, zone: ZoneInfo) -> str:
    """ "quiet hours until 09:00 Europe/Amsterdam": what the pause says."""
    return f"quiet hours until {until.astimezone(zone):%H:%M} {zone.key}"


def sender_id_for(partner: Partner, phone: str) -> str:
    """The partner's alphanumeric sender id where the number's country shows one, else ""."""
    if not partner.sms_sender_id:
        return ""
    try:
        country = country_of(phone)
    except ValueError:
        return ""
    return partner.sms_sender_id if country in SENDER_ID_COUNTRIES else ""


def sms_message_id(row: Delivery, domain: str) -> str:
    """Derived from the row, like an email's Message-ID: a resend after a crash carries it."""
    return f"<s{row.id}.pc{row.partner_campaign_id}@{domain}>"


def compose_sms(
    session: Session,
    ctx: SendContext,
    row: Delivery,
    contact: Contact | None,
    shorten: Callable[[str], str],
) -> str:
    """The row's SMS text in the recipient's locale (as for email: the contact's, else the
    partner campaign's), links through `shorten`, the localised opt-out line last."""
    locale = (contact.locale if contact else None) or ctx.pc.locale
    name = (contact.name if contact else "") or ""
    render_ctx = {
        "partner": as_profile(ctx.partner),
        "recipient": recipient_vars(name.split(" ")[0] if name else "", name, "", locale),
        "brand": {"name": ctx.brand.name, "palette": list(ctx.brand.palette)},
        "campaign": {"name": ctx.campaign.name},
    }
    key = f"version-{ctx.version.id}-{ctx.version.updated_at.isoformat()}-{locale}-sms"
    text = render_sms(key, ctx.content, ctx.slots(session, locale), render_ctx)
    return with_opt_out(shorten_links(text, shorten), locale)


def _shortener(ctx: SendContext, row: Delivery) -> Callable[[str], str]:
    """Short tracked links when the brand tracks clicks; links stay as they are otherwise."""
    if not ctx.brand.click_tracking or not row.id:
        return lambda url: url
    return Shortener(ctx.settings, row.id)


@dataclass(frozen=True)
class ShortLinkTarget:
    url: str
    record: bool  # whether the click is recorded: the brand tracks clicks now


def link_of(
    engine: Engine, settings: Settings, delivery_id: int, index: int
) -> ShortLinkTarget | None:
    """Link number `index` of the delivery's SMS, composed again (the short-link redirect);
    None when there is no such SMS or link. A link texted while the brand tracked clicks keeps
    working after it stops (the recipient's message must not break); only the click is then
    not recorded."""
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Delivery, delivery_id)
        if row is None or row.channel != Channel.sms.value:
            return None
        ctx = load_context(session, settings, row.partner_campaign_id)
        contact = session.get(Contact, row.contact_id) if row.contact_id else None
        collect = Collector()
        try:
            compose_sms(session, ctx, row, contact, collect)
        except DATABASE_FAULTS:
            raise
        except Exception:  # the content no longer renders: nothing to redirect to
            return None
        if index >= len(collect.links):
            return None
        return ShortLinkTarget(collect.links[index], record=bool(ctx.brand.click_tracking))


def _open_rows(
    session: Session, partner_campaign_id: int, after_id: int, limit: int
) -> list[Delivery]:
    return list(
        session.exec(
            select(Delivery)
            .where(
                Delivery.partner_campaign_id == partner_campaign_id,
                Delivery.channel == Channel.sms.value,
                col(Delivery.id) > after_id,
                col(Delivery.status).not_in([s.value for s in DELIVERY_FINAL]),
            )
            .order_by(col(Delivery.id))
            .limit(limit)
        ).all()
    )


def _mark(session: Session, row: Delivery, status: DeliveryStatus, **changes: object) -> None:
    row.status = status
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.add(row)
    session.commit()


def _reason(err: object, row: Delivery) -> str:
    text = without_addresses(str(err), row.email)
    return (text.replace(row.phone, "<number>") if row.phone else text)[:1000]


class _Stop(Exception):
    """The batch ends here (quiet hours began, the account was refused, throttled too long)."""


def send_sms_batch(
    engine: Engine,
    settings: Settings,
    transport: SmsSender,
    partner_campaign_id: int,
    limit: int,
    *,
    after_id: int = 0,
    now: Callable[[], datetime] | None = None,
    pace: Pace | None = None,
    progress: Callable[[int], None] = lambda row_id: None,
    sleep: Callable[[float], None] = time.sleep,
) -> SmsBatchResult:
    """Send up to `limit` SMS rows that are not final, after row `after_id`, in id order.

    `now` is the clock quiet hours are judged by (the workflow passes its own time, so a
    time-skipping test and a real send agree). Outcomes as for email (services.delivery):
    one recipient's failure is recorded on its row; a throttle holds and retries (ending the
    batch early after SEND_THROTTLE_BUDGET); the account refused pauses the send; the SMS
    service unreachable or the database down is a `fault` the workflow probes."""
    clock = now or utcnow
    pace = pace or Pace()
    result = SmsBatchResult(last_id=after_id)
    try:
        with Session(engine, expire_on_commit=False) as session:
            ctx = load_context(session, settings, partner_campaign_id)
            result.late = late_reason(ctx.campaign.send_by, clock(), settings.send_late_grace)
            if result.late is not None:
                return result
            zone = zone_of(ctx.partner)
            start, end = settings.sms_quiet_start, settings.sms_quiet_end
            result.quiet_until = quiet_until(clock(), zone, start, end)
            if result.quiet_until is not None:
                return result
            rows = _open_rows(session, partner_campaign_id, after_id, limit)
            result.seen = len(rows)
            offset = 0
            while offset < len(rows):
                chunk = rows[offset : offset + max(1, pace.chunk())]
                offset += len(chunk)
                _send_chunk(session, ctx, transport, chunk, result, pace, progress, sleep, clock)
    except _Stop:
        pass
    except (TransportUnavailableError, *DATABASE_FAULTS) as err:
        result.fault = describe_fault(err).replace("the email service", "the SMS service")
    return result


def _send_chunk(
    session: Session,
    ctx: SendContext,
    transport: SmsSender,
    rows: list[Delivery],
    result: SmsBatchResult,
    pace: Pace,
    progress: Callable[[int], None],
    sleep: Callable[[float], None],
    clock: Callable[[], datetime],
) -> None:
    stopped = sms_suppression.suppressed_phones(
        session, ctx.pc.brand_id, [r.phone for r in rows if r.phone]
    )
    ids = [r.contact_id for r in rows if r.contact_id]
    contacts = {c.id: c for c in session.exec(select(Contact).where(col(Contact.id).in_(ids)))}
    end = time.monotonic() + pace.reserve(len(rows))
    while (left := end - time.monotonic()) > 0:
        sleep(min(left, 1.0))
        progress(result.last_id)
    zone = zone_of(ctx.partner)
    for row in rows:
        quiet = quiet_until(clock(), zone, ctx.settings.sms_quiet_start, ctx.settings.sms_quiet_end)
        if quiet is not None:  # quiet hours began during the batch: the rest waits
            result.quiet_until = quiet
            raise _Stop
        contact = contacts.get(row.contact_id) if row.contact_id else None
        if not row.phone or contact is None:  # the contact was erased after the snapshot
            _mark(session, row, DeliveryStatus.suppressed, error="contact erased")
            result.suppressed += 1
        elif row.phone in stopped:
            _mark(session, row, DeliveryStatus.suppressed, error="number suppressed before send")
            result.suppressed += 1
        elif (
            contact.sms_consent_status != ConsentStatus.granted.value or contact.phone != row.phone
        ):
            _mark(session, row, DeliveryStatus.suppressed, error="no SMS consent at send time")
            result.suppressed += 1
        else:
            _send_one(session, ctx, transport, row, contact, result, pace, sleep, clock)
        result.last_id = row.id or result.last_id
        progress(result.last_id)


def _send_one(
    session: Session,
    ctx: SendContext,
    transport: SmsSender,
    row: Delivery,
    contact: Contact,
    result: SmsBatchResult,
    pace: Pace,
    sleep: Callable[[float], None],
    clock: Callable[[], datetime],
) -> None:
    attempts = row.attempts
    try:
        body = compose_sms(session, ctx, row, contact, _shortener(ctx, row))
    except DATABASE_FAULTS:
        raise
    except Exception as err:  # this recipient's SMS cannot be built
        row.attempts += 1
        _failed(session, row, result, _reason(f"composition: {type(err).__name__}: {err}", row))
        return
    msg = SmsMessage(
        to=row.phone,
        body=body,
        message_id=sms_message_id(row, ctx.identity.domain),
        sender_id=sender_id_for(ctx.partner, row.phone),
    )
    throttled_since: float | None = None
    tries = 0
    while True:
        row.status = DeliveryStatus.sending
        row.attempts = attempts + 1
        row.updated_at = utcnow()
        session.add(row)
        session.commit()
        try:
            provider_id = transport.send_sms(msg, tags=tags_for(ctx, row))
        except ThrottledError as err:
            _put_back(session, row, attempts, _reason(err, row))
            result.throttled += 1
            pace.throttled(err.retry_after or 0.0)
            now = time.monotonic()
            throttled_since = throttled_since if throttled_since is not None else now
            if now - throttled_since >= ctx.settings.send_throttle_budget:
                result.cut_short = True
                raise _Stop from None
            tries += 1
            sleep(err.retry_after or min(THROTTLE_FIRST_WAIT * 2**tries, 10.0))
            continue
        except TransportPausedError as err:
            _put_back(session, row, attempts, _reason(err, row))
            result.paused = _reason(err, row)
            raise _Stop from None
        except TransportUnavailableError as err:
            _put_back(session, row, attempts, _reason(err, row))
            raise TransportUnavailableError(err.code, _reason(err.reason, row)) from None
        except PermanentSendError as err:
            _refused(session, ctx, row, result, err)
            return
        except TransientSendError as err:
            _failed(session, row, result, _reason(err, row))
            return
        row.status = DeliveryStatus.sent
        row.provider_message_id = provider_id[:200]
        row.message_id = msg.message_id
        row.sent_at = row.updated_at = clock()
        row.error = None
        session.add(row)
        session.commit()
        result.sent += 1
        pace.succeeded()
        return


def _put_back(session: Session, row: Delivery, attempts: int, reason: str) -> None:
    """Pending again, the attempt given back: the account, not this recipient."""
    _mark(session, row, DeliveryStatus.pending, attempts=attempts, error=reason)


def _failed(session: Session, row: Delivery, result: SmsBatchResult, reason: str) -> None:
    if row.attempts >= MAX_ATTEMPTS:
        _mark(session, row, DeliveryStatus.failed, error=reason)
        result.failed += 1
    else:
        _mark(session, row, DeliveryStatus.pending, error=reason)
        result.retry_later += 1


def _refused(
    session: Session,
    ctx: SendContext,
    row: Delivery,
    result: SmsBatchResult,
    err: PermanentSendError,
) -> None:
    """Refused for good. Opted out or invalid: the number is suppressed for the brand at once
    (no later send texts it again) and the row is suppressed (opted out) or failed."""
    reason = _reason(err, row)
    code = getattr(err, "code", "")
    if code in (OPTED_OUT, INVALID_NUMBER):
        sms_suppression.suppress_phone(
            session,
            ctx.pc.brand_id,
            row.phone,
            SuppressionReason.stop.value if code == OPTED_OUT else SuppressionReason.invalid.value,
            partner_id=ctx.pc.partner_id,
            source="sms provider",
            detail=reason,
        )
    if code == OPTED_OUT:
        _mark(session, row, DeliveryStatus.suppressed, error=reason, permanent=True)
        result.suppressed += 1
    else:
        _mark(session, row, DeliveryStatus.failed, error=reason, permanent=True)
        result.failed += 1
