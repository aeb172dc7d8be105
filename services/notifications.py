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

from jinja2 import DictLoader, Environment, StrictUndefined
from sqlmodel import Session, col, select

from approvals.engine import may_decide, pool
from approvals.facts import ApprovalFacts
from approvals.policy import Approver
from core.policy import Target
from core.settings import Settings
from domain.roles import Role, ScopeType
from domain.scheduling import SCHEDULE_REMINDER
from i18n.catalogues import language_of
from i18n.context import current_locale, speaking
from i18n.translate import gettext as _
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
from services.preferences import valid_zone
from services.signin_links import make_link as signin_link
from services.speaking_to import local_time, speaking_to

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


def format_due(due: datetime | None, timezone: str | None = None) -> str | None:
    """In the reader's time zone (the current one, i18n.context; `timezone` overrides it),
    named, in their language: where the deadline is felt."""
    if due is None:
        return None
    if timezone is not None and not valid_zone(timezone):
        timezone = "UTC"
    with speaking(zone=timezone):
        return local_time(due)


@dataclass(frozen=True)
class _Body:
    subject: str
    paragraphs: list[str]
    actions: list[tuple[str, str]]  # (label, url)


# The words are the caller's (gettext, in the recipient's language); the markup is fixed and
# every value is escaped.
_HTML = Environment(
    loader=DictLoader(
        {
            "notice.html": """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family: Arial, sans-serif; color: #1a1a1a; line-height: 1.5">
<p>{{ words.hello }}</p>
{% for p in paragraphs %}<p>{{ p }}</p>
{% endfor %}{% if comment %}<p><strong>{{ words.comment }}</strong></p>
<blockquote style="border-left: 3px solid #ccc; margin: 0 0 1em; padding-left: 1em; \
white-space: pre-wrap">{{ comment }}</blockquote>
{% endif %}{% if due %}<p><strong>{{ words.due }}</strong> {{ due }}</p>
{% endif %}{% if actions %}<p>{% for label, url in actions %}<a href="{{ url }}" \
style="display: inline-block; padding: 8px 16px; margin-right: 8px; background: #0b3d91; \
color: #ffffff; text-decoration: none; border-radius: 4px">{{ label }}</a>{% endfor %}</p>
<p style="color: #555; font-size: 90%">{{ words.confirm }}</p>
{% endif %}<p><a href="{{ portal_url }}">{{ words.open }}</a></p>
<p style="color: #777; font-size: 85%">{{ words.automatic }}</p>
</body></html>
"""
        }
    ),
    autoescape=True,
    undefined=StrictUndefined,
)


def _decide_line(recipient: Recipient) -> str:
    if recipient.may_decide:
        return _(
            "Approve it, or ask for changes, with the links below (or review it in the portal "
            "first)."
        )
    if recipient.submitted:
        return _("You submitted it, so another approver decides (four eyes).")
    return _("You receive this for your information.")


def _body(
    notice: PartnerNotice, recipient: Recipient, partner_name: str, links: list[tuple[str, str]]
) -> _Body:
    """The subject and paragraphs in the current language (the recipient's)."""
    names = {"campaign": notice.campaign_name, "partner": partner_name}
    if notice.kind == INVITED:
        return _Body(
            _("New campaign to personalise: %(campaign)s (%(partner)s)", **names),
            [
                _(
                    'Headquarters has published the campaign "%(campaign)s" for %(partner)s.',
                    **names,
                ),
                _("Personalise it and submit it for approval before the due time."),
            ],
            [],
        )
    if notice.kind == CHANGES_REQUESTED:
        return _Body(
            _("Changes requested: %(campaign)s (%(partner)s)", **names),
            [
                _(
                    'The approver asked for changes to the campaign "%(campaign)s" for '
                    "%(partner)s.",
                    **names,
                ),
                _("Update it and submit it again before the due time."),
            ],
            [],
        )
    if notice.kind == SCHEDULE_REMINDER:
        return _Body(
            _("Pick the send time: %(campaign)s (%(partner)s)", **names),
            [
                _(
                    'The campaign "%(campaign)s" for %(partner)s is approved, but nobody has '
                    "picked its send time yet.",
                    **names,
                ),
                _("Pick it in the portal; otherwise it goes out at the send deadline."),
            ],
            [],
        )
    if notice.kind == APPROVAL_PENDING:
        waits = (
            _(
                'The campaign "%(campaign)s" for %(partner)s was submitted and waits for '
                "approval by the partner's GM.",
                **names,
            )
            if notice.stage == "pending_gm"
            else _(
                'The campaign "%(campaign)s" for %(partner)s was submitted and waits for '
                "approval by headquarters.",
                **names,
            )
        )
        return _Body(
            _("Waiting for approval: %(campaign)s (%(partner)s)", **names),
            [waits, _decide_line(recipient)],
            links,
        )
    if notice.kind == REMINDER:
        return _Body(
            _("Reminder: %(campaign)s (%(partner)s) is waiting for approval", **names),
            [
                _(
                    'The campaign "%(campaign)s" for %(partner)s is still waiting for approval.',
                    **names,
                ),
                _decide_line(recipient),
            ],
            links,
        )
    if notice.kind == SEND_PAUSED:
        return _Body(
            _("Sending paused: %(campaign)s (%(partner)s)", **names),
            [
                _(
                    'Sending the campaign "%(campaign)s" for %(partner)s is paused: the email '
                    "service refused to send (%(reason)s).",
                    reason=notice.comment or _("no reason given"),
                    **names,
                ),
                _(
                    "Nothing more goes out until the email account is fixed; the send then "
                    "resumes where it stopped, and nobody gets the message twice."
                ),
            ],
            [],
        )
    if notice.kind == SEND_LATE:
        return _Body(
            _("Not sent, too late: %(campaign)s (%(partner)s)", **names),
            [
                _(
                    'Sending the campaign "%(campaign)s" for %(partner)s stopped: %(reason)s.',
                    reason=notice.comment or _("its send deadline has passed"),
                    **names,
                ),
                _(
                    "Members who have not had it will not get it; tell them another way if the "
                    "news still matters."
                ),
            ],
            [],
        )
    return _Body(
        _("Escalated: %(campaign)s (%(partner)s) needs a decision", **names),
        [
            _(
                'The campaign "%(campaign)s" for %(partner)s was not decided in time by the '
                "partner's GM and is escalated to you as region manager.",
                **names,
            ),
            _decide_line(recipient),
        ],
        links,
    )


def compose_notice(
    settings: Settings,
    notice: PartnerNotice,
    recipient: Recipient,
    *,
    partner_name: str,
    timezone: str | None = None,
    now: datetime | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """One recipient's message in the current language and zone (plan() speaks the
    recipient's, services.speaking_to); `timezone` overrides the zone."""
    with speaking(zone=timezone if timezone and valid_zone(timezone) else None):
        return _compose_notice(
            settings, notice, recipient, partner_name=partner_name, now=now, message_id=message_id
        )


def _compose_notice(
    settings: Settings,
    notice: PartnerNotice,
    recipient: Recipient,
    *,
    partner_name: str,
    now: datetime | None,
    message_id: str | None,
) -> EmailMessage:
    pc_id = notice.partner.partner_campaign_id
    portal_url = f"{settings.public_base_url.rstrip('/')}/partner-campaigns/{pc_id}"
    if notice.kind in SIGN_IN_KINDS:  # the editor's own link: signs in, opens the form
        portal_url = signin_link(settings, pc_id, recipient.user_id, now=now)
    links: list[tuple[str, str]] = []
    if recipient.may_decide and notice.kind in DECISION_KINDS:
        links = [
            (
                _("Approve"),
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
                _("Request changes"),
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
    due = format_due(notice.due_at)
    comment = (notice.comment or "").strip() or None
    words = {
        "hello": _("Hello %(name)s,", name=name),
        "comment": _("Comment:"),
        "due": _("Due:"),
        "confirm": _(
            "Each button opens a page that asks you to confirm; nothing happens before you do. "
            "The buttons work only for you, until %(time)s.",
            time=format_due((now or datetime.now(UTC)) + DEFAULT_TTL) or "",
        ),
        "open": _("Open it in the portal"),
        "automatic": _("Brandrelay sent this message automatically."),
    }

    lines = [words["hello"], "", *(p + "\n" for p in body.paragraphs)]
    if comment:
        lines += [words["comment"], *(f"> {c}" for c in comment.splitlines()), ""]
    if due:
        lines += [f"{words['due']} {due}", ""]
    for label, url in links:
        lines += [f"{label}: {url}"]
    if links:
        lines += [_("(each link asks you to confirm first; it works only for you)"), ""]
    lines += [f"{words['open']}: {portal_url}", "", "-- ", "Brandrelay"]
    html = _HTML.get_template("notice.html").render(
        lang=language_of(current_locale()),
        subject=subject,
        words=words,
        paragraphs=body.paragraphs,
        comment=comment,
        due=due,
        actions=links,
        portal_url=portal_url,
    )
    local, _at, domain = recipient.email.rpartition("@")
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
    out = []
    for r in people:
        # Each person in their own language and zone (services.speaking_to).
        with speaking_to(session, session.get(User, r.user_id)):
            message = compose_notice(
                settings,
                notice,
                r,
                partner_name=partner_name,
                now=now,
                message_id=message_id(r) if message_id else None,
            )
        out.append(Outgoing(r, message))
    return out
