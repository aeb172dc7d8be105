"""Partner campaign notifications: who hears about a PartnerNotice, and what the email says.

Recipients are looked up when the email goes out, not when the workflow asked for it, so a
membership granted or removed in between counts. Who may decide is asked of core.policy (the
rule the workflow's validators apply), so an email offers one-click decisions only to people
whose click the workflow would accept; the submitter gets none (four eyes).

Campaign names, partner names, comments and people's names are typed by users: the HTML part
is rendered by an autoescaping Jinja environment of its own (never the template sandbox), and
subjects are collapsed to one printable line before mail.compose, which refuses line breaks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import DictLoader, Environment, StrictUndefined
from sqlmodel import Session, col, select

from approvals.engine import may_decide, pool
from approvals.facts import ApprovalFacts
from approvals.policy import Approver
from core.policy import Target
from core.settings import Settings
from domain.roles import Role, ScopeType
from domain.scheduling import SCHEDULE_REMINDER
from mail.message import compose
from models.approvals import Delegation
from models.base import utcnow
from models.campaigns import PartnerCampaign
from models.org import Membership, Partner, User
from models.workflow_io import PartnerNotice
from services.accounts import principal_for
from services.action_links import DEFAULT_TTL, make_link
from services.approvals.delegations import identities
from services.approvals.facts import role_holders
from services.signin_links import make_link as signin_link

INVITED = "invited"
CHANGES_REQUESTED = "changes_requested"
APPROVAL_PENDING = "approval_pending"
REMINDER = "reminder"
ESCALATED = "escalated"
SEND_PAUSED = "send_paused"  # the transport refused everything: approvers and HQ must know
SEND_LATE = "send_late"  # the send deadline passed before it could (all) go: it stopped

KINDS = frozenset(
    {
        INVITED,
        CHANGES_REQUESTED,
        APPROVAL_PENDING,
        REMINDER,
        ESCALATED,
        SEND_PAUSED,
        SEND_LATE,
        SCHEDULE_REMINDER,
    }
)
DECISION_KINDS = frozenset({APPROVAL_PENDING, REMINDER, ESCALATED})
SIGN_IN_KINDS = frozenset({INVITED, CHANGES_REQUESTED, SCHEDULE_REMINDER})
EDITOR_ROLES = (Role.partner_editor, Role.partner_manager)
MAX_SUBJECT = 200


class UnknownNotice(ValueError):
    """A notice kind, or a partner campaign, this module does not know: retrying cannot help."""


@dataclass(frozen=True)
class Recipient:
    user_id: int
    email: str
    name: str
    may_decide: bool = False
    submitted: bool = False  # the person who submitted (four eyes keeps them from deciding)


@dataclass(frozen=True)
class Outgoing:
    recipient: Recipient
    message: EmailMessage


# Recipients ------------------------------------------------------------------------------------


def _members(
    session: Session,
    brand_id: int,
    roles: Iterable[Role],
    scope: ScopeType,
    *,
    region_id: int | None = None,
    partner_id: int | None = None,
) -> list[User]:
    stmt = (
        select(User)
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(
            col(User.is_active),
            User.brand_id == brand_id,
            Membership.brand_id == brand_id,
            col(Membership.role).in_([r.value for r in roles]),
            Membership.scope_type == scope.value,
        )
    )
    if scope == ScopeType.partner:
        stmt = stmt.where(Membership.partner_id == partner_id)
    elif scope == ScopeType.region:
        stmt = stmt.where(Membership.region_id == region_id)
    return list(session.exec(stmt.distinct().order_by(col(User.id))).all())


def _named(
    session: Session, notice: PartnerNotice, row: PartnerCampaign, approvers: list[Approver]
) -> list[User]:
    """The people `approvers` name at this partner campaign now, and whoever stands in for
    them (an active delegation): the stand-in sees the task and may decide it."""
    holders = role_holders(session, row)
    ids = set(pool(approvers, ApprovalFacts(role_holders=holders)))
    stand_ins = session.exec(
        select(Delegation.delegate_id).where(
            col(Delegation.user_id).in_(sorted(ids)),
            col(Delegation.revoked_at).is_(None),
            col(Delegation.starts_at) <= utcnow(),
            col(Delegation.ends_at) > utcnow(),
        )
    ).all()
    ids.update(stand_ins)
    if not ids:
        return []
    return list(
        session.exec(
            select(User)
            .where(col(User.id).in_(sorted(ids)), col(User.is_active))
            .where(User.brand_id == notice.brand_id)
            .order_by(col(User.id))
        ).all()
    )


def recipients(session: Session, notice: PartnerNotice) -> list[Recipient]:
    """Who gets this notice, once each, in user id order.

    A decision notice whose stage is over (someone decided before the email went out) goes to
    nobody: "waiting for your approval" would be wrong by the time it arrives.
    """
    if notice.kind not in KINDS:
        raise UnknownNotice(f"unknown notice kind {notice.kind!r}")
    row = session.get(PartnerCampaign, notice.partner.partner_campaign_id)
    if row is None or row.brand_id != notice.brand_id:
        raise UnknownNotice(f"partner campaign {notice.partner.partner_campaign_id} not found")
    stage = notice.approval
    if notice.kind in DECISION_KINDS and (
        row.state != notice.stage or stage is None or row.approval_stage != stage.name
    ):
        return []
    if notice.kind == SCHEDULE_REMINDER and (row.state != notice.stage or row.send_at):
        return []  # someone picked the send time before the email went out
    users: list[User]
    if notice.kind in (INVITED, CHANGES_REQUESTED, SCHEDULE_REMINDER):
        users = _members(
            session,
            notice.brand_id,
            EDITOR_ROLES,
            ScopeType.partner,
            partner_id=notice.partner.partner_id,
        )
    elif notice.kind in (APPROVAL_PENDING, REMINDER):
        assert stage is not None
        users = _named(session, notice, row, stage.approvers)
    elif notice.kind in (SEND_PAUSED, SEND_LATE):
        pid = notice.partner.partner_id
        users = _members(
            session, notice.brand_id, [Role.partner_manager], ScopeType.partner, partner_id=pid
        )
        users += _members(
            session, notice.brand_id, [Role.brand_admin, Role.brand_marketer], ScopeType.brand
        )
    else:  # escalated: the people the escalation added
        assert stage is not None
        users = _named(session, notice, row, stage.escalated_to)

    target = Target(notice.brand_id, notice.partner.region_id, notice.partner.partner_id)
    out: dict[int, Recipient] = {}
    for user in users:
        if user.id is None or user.id in out:
            continue
        decides = False
        if stage is not None and notice.kind in DECISION_KINDS:
            principal = principal_for(session, user)
            decides = user.id not in stage.excluded_user_ids and any(
                may_decide(i.principal, stage.approvers, target, stage.excluded_user_ids)
                for i in identities(session, principal)
            )
        out[user.id] = Recipient(
            user_id=user.id,
            email=user.email,
            name=one_line(user.full_name),
            may_decide=decides,
            submitted=row.submitted_by == user.id,
        )
    return sorted(out.values(), key=lambda r: r.user_id)


# Composition -----------------------------------------------------------------------------------


def one_line(text: str, limit: int = MAX_SUBJECT) -> str:
    """Collapse whitespace (line breaks included) and drop control characters."""
    flat = " ".join(text.split())
    flat = "".join(ch for ch in flat if ch.isprintable())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def format_due(due: datetime | None, timezone: str) -> str | None:
    """In the partner's own time zone, which is where the deadline is felt."""
    if due is None:
        return None
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone, timezone = ZoneInfo("UTC"), "UTC"
    aware = due if due.tzinfo else due.replace(tzinfo=UTC)
    return f"{aware.astimezone(zone):%a %d %b %Y, %H:%M} ({timezone})"


@dataclass(frozen=True)
class _Body:
    subject: str
    paragraphs: list[str]
    actions: list[tuple[str, str]]  # (label, url)


_HTML = Environment(
    loader=DictLoader(
        {
            "notice.html": """<!doctype html>
<html><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family: Arial, sans-serif; color: #1a1a1a; line-height: 1.5">
<p>Hello {{ name }},</p>
{% for p in paragraphs %}<p>{{ p }}</p>
{% endfor %}{% if comment %}<p><strong>Comment:</strong></p>
<blockquote style="border-left: 3px solid #ccc; margin: 0 0 1em; padding-left: 1em; \
white-space: pre-wrap">{{ comment }}</blockquote>
{% endif %}{% if due %}<p><strong>Due:</strong> {{ due }}</p>
{% endif %}{% if actions %}<p>{% for label, url in actions %}<a href="{{ url }}" \
style="display: inline-block; padding: 8px 16px; margin-right: 8px; background: #0b3d91; \
color: #ffffff; text-decoration: none; border-radius: 4px">{{ label }}</a>{% endfor %}</p>
<p style="color: #555; font-size: 90%">Each button opens a page that asks you to confirm; \
nothing happens before you do. The buttons work only for you, until {{ links_expire }}.</p>
{% endif %}<p><a href="{{ portal_url }}">Open it in the portal</a></p>
<p style="color: #777; font-size: 85%">Brandrelay sent this message automatically.</p>
</body></html>
"""
        }
    ),
    autoescape=True,
    undefined=StrictUndefined,
)


def _body(
    notice: PartnerNotice, recipient: Recipient, partner_name: str, links: list[tuple[str, str]]
) -> _Body:
    campaign = notice.campaign_name
    where = f'"{campaign}" for {partner_name}'
    decide_line = (
        "Approve it, or ask for changes, with the links below (or review it in the portal first)."
        if recipient.may_decide
        else (
            "You submitted it, so another approver decides (four eyes)."
            if recipient.submitted
            else "You receive this for your information."
        )
    )
    if notice.kind == INVITED:
        return _Body(
            f"New campaign to personalise: {campaign} ({partner_name})",
            [
                f"Headquarters has published the campaign {where}.",
                "Personalise it and submit it for approval before the due time.",
            ],
            [],
        )
    if notice.kind == CHANGES_REQUESTED:
        return _Body(
            f"Changes requested: {campaign} ({partner_name})",
            [
                f"The approver asked for changes to the campaign {where}.",
                "Update it and submit it again before the due time.",
            ],
            [],
        )
    if notice.kind == SCHEDULE_REMINDER:
        return _Body(
            f"Pick the send time: {campaign} ({partner_name})",
            [
                f"The campaign {where} is approved, but nobody has picked its send time yet.",
                "Pick it in the portal; otherwise it goes out at the send deadline.",
            ],
            [],
        )
    if notice.kind == APPROVAL_PENDING:
        stage = "the partner's GM" if notice.stage == "pending_gm" else "headquarters"
        return _Body(
            f"Waiting for approval: {campaign} ({partner_name})",
            [f"The campaign {where} was submitted and waits for approval by {stage}.", decide_line],
            links,
        )
    if notice.kind == REMINDER:
        return _Body(
            f"Reminder: {campaign} ({partner_name}) is waiting for approval",
            [
                f"The campaign {where} is still waiting for approval.",
                decide_line,
            ],
            links,
        )
    if notice.kind == SEND_PAUSED:
        return _Body(
            f"Sending paused: {campaign} ({partner_name})",
            [
                f"Sending the campaign {where} is paused: the email service refused to send "
                f"({notice.comment or 'no reason given'}).",
                "Nothing more goes out until the email account is fixed; the send then resumes "
                "where it stopped, and nobody gets the message twice.",
            ],
            [],
        )
    if notice.kind == SEND_LATE:
        return _Body(
            f"Not sent, too late: {campaign} ({partner_name})",
            [
                f"Sending the campaign {where} stopped: "
                f"{notice.comment or 'its send deadline has passed'}.",
                "Members who have not had it will not get it; tell them another way if the "
                "news still matters.",
            ],
            [],
        )
    return _Body(
        f"Escalated: {campaign} ({partner_name}) needs a decision",
        [
            f"The campaign {where} was not decided in time by the partner's GM and is "
            "escalated to you as region manager.",
            decide_line,
        ],
        links,
    )


def compose_notice(
    settings: Settings,
    notice: PartnerNotice,
    recipient: Recipient,
    *,
    partner_name: str,
    timezone: str = "UTC",
    now: datetime | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    pc_id = notice.partner.partner_campaign_id
    portal_url = f"{settings.public_base_url.rstrip('/')}/partner-campaigns/{pc_id}"
    if notice.kind in SIGN_IN_KINDS:  # the editor's own link: signs in, opens the form
        portal_url = signin_link(settings, pc_id, recipient.user_id, now=now)
    links: list[tuple[str, str]] = []
    if recipient.may_decide and notice.kind in DECISION_KINDS:
        links = [
            (
                "Approve",
                make_link(
                    settings,
                    pc_id,
                    recipient.user_id,
                    "approve",
                    revision=notice.revision or None,
                    now=now,
                ),
            ),
            (
                "Request changes",
                make_link(
                    settings,
                    pc_id,
                    recipient.user_id,
                    "request_changes",
                    revision=notice.revision or None,
                    now=now,
                ),
            ),
        ]
    partner_name = one_line(partner_name)
    body = _body(notice, recipient, partner_name, links)
    subject = one_line(body.subject)
    name = recipient.name or recipient.email
    due = format_due(notice.due_at, timezone)
    comment = (notice.comment or "").strip() or None

    lines = [f"Hello {name},", "", *(p + "\n" for p in body.paragraphs)]
    if comment:
        lines += ["Comment:", *(f"> {c}" for c in comment.splitlines()), ""]
    if due:
        lines += [f"Due: {due}", ""]
    for label, url in links:
        lines += [f"{label}: {url}"]
    if links:
        lines += ["(each link asks you to confirm first; it works only for you)", ""]
    lines += [f"Open it in the portal: {portal_url}", "", "-- ", "Brandrelay"]
    html = _HTML.get_template("notice.html").render(
        subject=subject,
        name=name,
        paragraphs=body.paragraphs,
        comment=comment,
        due=due,
        actions=links,
        links_expire=format_due((now or datetime.now(UTC)) + DEFAULT_TTL, timezone),
        portal_url=portal_url,
    )
    local, _, domain = recipient.email.rpartition("@")
    return compose(
        sender=settings.email_from,
        to=[Address(display_name=recipient.name, username=local, domain=domain)],
        subject=subject,
        text="\n".join(lines) + "\n",
        html=html,
        headers={"Auto-Submitted": "auto-generated"},
        now=now,
        message_id=message_id,
    )


def plan(
    session: Session,
    settings: Settings,
    notice: PartnerNotice,
    *,
    now: datetime | None = None,
    message_id: Callable[[Recipient], str] | None = None,
) -> list[Outgoing]:
    """Every message this notice asks for (nothing is sent here). `message_id` names each
    recipient's message (stable across retries); by default each gets a fresh id."""
    people = recipients(session, notice)
    if not people:
        return []
    partner = session.get(Partner, notice.partner.partner_id)
    partner_name = (
        partner.display_name if partner else str(notice.partner.profile.get("name", "partner"))
    )
    timezone = partner.timezone if partner else "UTC"
    return [
        Outgoing(
            r,
            compose_notice(
                settings,
                notice,
                r,
                partner_name=partner_name,
                timezone=timezone,
                now=now,
                message_id=message_id(r) if message_id else None,
            ),
        )
        for r in people
    ]
