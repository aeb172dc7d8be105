"""Test sends: the partner campaign's current email to the people working on it, before anyone
approves, exactly as recipients would get it (services.delivery.compose_for, the same sender
identity), with "[Test] " before the subject and an X-Brandrelay-Test header.

A test is never a delivery: it writes no ledger row, so the send's counts and progress never
see it, and its outbox row is marked `is_test`. Recipients are the caller or active users who
work at the partner (a membership at that partner): never contacts, never another partner's
people. At most MAX_RECIPIENTS per test and RATE_LIMIT tests per partner campaign in
RATE_WINDOW; each test is an audit event, which is also what the limit counts and what the
timeline shows (names and a count, no addresses).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from content.render import RenderError
from content.validate import validate_values
from core.errors import FieldError, Problem
from core.policy import Permission, Principal
from core.settings import Settings
from mail import tags as mail_tags
from mail.errors import PermanentSendError, SendError, TransientSendError
from mail.message import parse_address
from mail.redact import without_addresses
from mail.transport import MessageSender, make_transport
from models.audit import AuditEvent
from models.base import utcnow
from models.campaigns import PartnerCampaign
from models.org import Membership, User
from models.workflow_io import TimelineEntry
from services import audit
from services import campaigns as crud
from services.accounts import display_name
from services.delivery import compose_for, load_context, recipient_vars
from services.org import Actor
from services.templates import validation_context

MAX_RECIPIENTS = 5
RATE_LIMIT = 5  # tests per partner campaign ...
RATE_WINDOW = timedelta(minutes=10)  # ... in this window
ACTION = "partner_campaign.test_sent"
SUBJECT_PREFIX = "[Test] "
TEST_HEADER = "X-Brandrelay-Test"


@dataclass(frozen=True)
class SendTestResult:
    partner_campaign_id: int
    recipients: list[str]  # display names
    message_ids: list[str]
    subject: str


def _recipients(
    session: Session, principal: Principal, pc: PartnerCampaign, to: list[str] | None
) -> list[User]:
    """The caller by default; else each address must be the caller's or that of an active user
    with a membership at this partner. The same answer for an unknown address and another
    partner's user, so the form cannot be used to probe who has an account."""
    me = session.get(User, principal.user_id)
    if me is None:
        raise FieldError("to", "your account is not available")
    if not to:
        return [me]
    if len(to) > MAX_RECIPIENTS:
        raise FieldError("to", f"at most {MAX_RECIPIENTS} addresses")
    found: list[User] = []
    for i, raw in enumerate(to):
        field = f"to[{i}]"
        try:
            addr = parse_address(raw, field).addr_spec
        except ValueError:
            raise FieldError(field, "not an email address") from None
        user = session.exec(
            select(User).where(func.lower(User.email) == addr.lower(), User.brand_id == pc.brand_id)
        ).first()
        works_here = user is not None and (
            user.id == principal.user_id
            or (
                user.is_active
                and session.exec(
                    select(Membership.id).where(
                        Membership.user_id == user.id, Membership.partner_id == pc.partner_id
                    )
                ).first()
                is not None
            )
        )
        if user is None or not works_here:
            raise FieldError(field, "only you or an active user of this partner")
        if all(u.id != user.id for u in found):
            found.append(user)
    return found


def _recent(session: Session, pc_id: int, now: datetime) -> list[datetime]:
    rows = session.exec(
        select(AuditEvent.at).where(
            AuditEvent.action == ACTION,
            AuditEvent.entity_type == "partner_campaign",
            AuditEvent.entity_id == str(pc_id),
            col(AuditEvent.at) >= now - RATE_WINDOW,
        )
    ).all()
    return sorted(rows)


def check_rate(session: Session, pc_id: int, now: datetime | None = None) -> None:
    """429 with Retry-After (seconds until the oldest test in the window leaves it)."""
    now = now or utcnow()
    recent = _recent(session, pc_id, now)
    if len(recent) < RATE_LIMIT:
        return
    oldest = recent[-RATE_LIMIT]
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=now.tzinfo)
    wait = max(1, int((oldest + RATE_WINDOW - now).total_seconds()) + 1)
    raise Problem(
        f"at most {RATE_LIMIT} test sends per {int(RATE_WINDOW.total_seconds() // 60)} minutes "
        f"for this campaign; try again in {wait} s",
        status=429,
        title="Too many test sends",
        headers={"Retry-After": str(wait)},
    )


def _check_values(session: Session, ctx: Any) -> None:
    """The saved values as the preview checks them: 422 naming each field."""
    pc = ctx.pc
    vctx = validation_context(
        session,
        pc.brand_id,
        ctx.partner,
        pc.locale,
        None,
        None,
        content=ctx.content,
        values=dict(pc.values),
        today=utcnow().date(),
    )
    errors = validate_values(ctx.content, dict(pc.values), vctx)
    if errors:
        raise Problem(
            "the saved values cannot be sent yet: " + "; ".join(e.message for e in errors),
            status=422,
            title="Invalid values",
            errors=[e.model_dump() for e in errors],
        )
    if ctx.content.email is None:
        raise FieldError("format", "this template has no email variant")


def _refusal(err: SendError) -> Problem:
    """The transport's answer for people: 503 (try later) or 422 (refused), no 500."""
    reason = without_addresses(err.reason)[:300]
    if isinstance(err, TransientSendError):
        wait = int(err.retry_after or 60)
        return Problem(
            f"the email service cannot take the test now ({err.code}: {reason}); try again later",
            status=503,
            title="Email service unavailable",
            headers={"Retry-After": str(wait)},
        )
    assert isinstance(err, PermanentSendError)
    return Problem(
        f"the email service refused the test ({err.code}: {reason})",
        status=422,
        title="Test send refused",
    )


def send_test(
    session: Session,
    engine: Engine,
    settings: Settings,
    actor: Actor,
    partner_campaign_id: int,
    to: list[str] | None = None,
    *,
    transport: MessageSender | None = None,
) -> SendTestResult:
    """Everyone who may edit the partner campaign (its editor and GM, brand admins) may test;
    404 outside their reach, 403 for readers."""
    principal = actor.principal
    pc = crud.load_partner_campaign(
        session, principal, partner_campaign_id, Permission.partner_campaign_edit
    )
    assert pc.id is not None
    check_rate(session, pc.id)
    users = _recipients(session, principal, pc, to)
    ctx = load_context(session, settings, pc.id)
    _check_values(session, ctx)
    unsubscribe = f"{settings.public_base_url.rstrip('/')}/u/test-send"  # 404: not a contact
    messages = []
    try:
        for user in users:
            name = user.full_name or ""
            msg = compose_for(
                session,
                ctx,
                to=parse_address(user.email, "to"),
                recipient=recipient_vars(name.split(" ")[0], name, user.email, pc.locale),
                unsubscribe=unsubscribe,
                message_id=make_msgid(idstring=f"test.pc{pc.id}", domain=ctx.identity.domain),
                headers={TEST_HEADER: "yes"},
            )
            msg.replace_header("Subject", SUBJECT_PREFIX + str(msg["Subject"]))
            messages.append(msg)
    except RenderError as err:
        raise Problem(
            f"HQ's template cannot be shown: {err}", status=422, title="Template refused"
        ) from err
    sender = transport or make_transport(settings, engine)
    tags = mail_tags.make_tags(
        brand=pc.brand_id, campaign=pc.campaign_id, partner=pc.partner_id, partner_campaign=pc.id
    )
    tags[mail_tags.TEST] = "yes"
    ids: list[str] = []
    for msg in messages:
        try:
            ids.append(sender.send(msg, tags=tags))
        except SendError as err:
            if ids:  # some went: record them, then say what stopped the rest
                _record(session, actor, pc, users[: len(ids)], str(messages[0]["Subject"]))
                session.commit()
            raise _refusal(err) from err
    subject = str(messages[0]["Subject"])
    _record(session, actor, pc, users, subject)
    return SendTestResult(pc.id, [display_name(u) for u in users], ids, subject)


def _record(
    session: Session, actor: Actor, pc: PartnerCampaign, users: list[User], subject: str
) -> None:
    names = [display_name(u) for u in users]
    audit.append_in(
        session,
        audit.NewEvent(
            brand_id=pc.brand_id,
            region_id=pc.region_id,
            partner_id=pc.partner_id,
            actor=str(actor.principal.user_id),
            action=ACTION,
            entity_type="partner_campaign",
            entity_id=str(pc.id),
            event_key=f"api:{actor.request_id}:{ACTION}:partner_campaign:{pc.id}",
            after={
                "recipients": len(users),
                "names": names,
                "state": pc.state,
                "subject": subject[:300],
            },
            comment=f"test sent to {len(users)}: {', '.join(names)}"[:2000],
            request_id=actor.request_id,
        ),
    )


def timeline_entries(session: Session, pc: PartnerCampaign) -> list[TimelineEntry]:
    """The partner campaign's test sends as timeline entries (no state change)."""
    rows = session.exec(
        select(AuditEvent)
        .where(
            AuditEvent.brand_id == pc.brand_id,
            AuditEvent.action == ACTION,
            AuditEvent.entity_type == "partner_campaign",
            AuditEvent.entity_id == str(pc.id),
        )
        .order_by(col(AuditEvent.at))
    ).all()
    out = []
    for row in rows:
        state = str((row.after or {}).get("state", ""))
        out.append(
            TimelineEntry(
                seq=0,
                at=row.at,
                event="test_sent",
                from_state=state,
                to_state=state,
                actor_id=int(row.actor) if row.actor.isdigit() else None,
                comment=row.comment,
            )
        )
    return out


def with_tests(
    session: Session, pc: PartnerCampaign, entries: list[TimelineEntry]
) -> list[TimelineEntry]:
    """The workflow's timeline with the test sends among its entries, in time order."""
    return sorted([*entries, *timeline_entries(session, pc)], key=lambda e: e.at)


def count_recent(session: Session, pc_id: int) -> int:
    """Tests in the current window (the page says how many are left)."""
    now = utcnow()
    found = session.exec(
        select(func.count()).where(
            AuditEvent.action == ACTION,
            AuditEvent.entity_type == "partner_campaign",
            AuditEvent.entity_id == str(pc_id),
            col(AuditEvent.at) >= now - RATE_WINDOW,
        )
    ).one()
    return int(found)


def people_of(session: Session, pc: PartnerCampaign) -> list[User]:
    """Whom a test may go to besides the caller: the partner's active users, by name."""
    return list(
        session.exec(
            select(User)
            .join(Membership, col(Membership.user_id) == col(User.id))
            .where(Membership.partner_id == pc.partner_id, col(User.is_active))
            .order_by(col(User.full_name), col(User.email))
            .distinct()
        ).all()
    )
