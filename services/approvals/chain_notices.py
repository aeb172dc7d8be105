"""The emails of approval chains that decide print orders and claims: who gets them (the
people the waiting stage names now, and their stand-ins, when they may decide) and what they
say (the object, the stage, the due time and a portal link). Plain text: the object's label
may carry partner text, and a text body cannot run it.

A notice whose stage is no longer waiting (decided before the email went out) goes to nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage

from sqlmodel import Session, col, select

from approvals.engine import may_decide, pool
from approvals.facts import ApprovalFacts
from approvals.policy import Approver
from core.policy import Target
from core.settings import Settings
from mail.message import compose
from models.approvals import Delegation
from models.base import utcnow
from models.chain_io import ChainNotice
from models.org import User
from services.accounts import principal_for
from services.approvals.chain_tasks import open_task, role_holders_at
from services.approvals.delegations import identities
from services.notifications import one_line

APPROVAL_PENDING = "approval_pending"
REMINDER = "reminder"
ESCALATED = "escalated"
KINDS = frozenset({APPROVAL_PENDING, REMINDER, ESCALATED})
SUBJECTS = {
    APPROVAL_PENDING: "Waiting for your approval: {label}",
    REMINDER: "Reminder: {label} waits for your approval",
    ESCALATED: "Escalated to you: {label} waits for a decision",
}


class UnknownChainNotice(ValueError):
    """A kind this module does not know: retrying cannot help."""


@dataclass(frozen=True)
class Outgoing:
    user_id: int
    message: EmailMessage


def _target(notice: ChainNotice) -> Target:
    return Target(notice.brand_id, notice.region_id, notice.partner_id)


def _named(session: Session, notice: ChainNotice, approvers: list[Approver]) -> list[User]:
    holders = role_holders_at(session, _target(notice))
    ids = set(pool(approvers, ApprovalFacts(role_holders=holders)))
    now = utcnow()
    ids.update(
        session.exec(
            select(Delegation.delegate_id).where(
                col(Delegation.user_id).in_(sorted(ids)),
                col(Delegation.revoked_at).is_(None),
                col(Delegation.starts_at) <= now,
                col(Delegation.ends_at) > now,
            )
        ).all()
    )
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


def recipients(session: Session, notice: ChainNotice) -> list[User]:
    """Who may decide the stage now among the people the notice is for, in user id order."""
    if notice.kind not in KINDS:
        raise UnknownChainNotice(f"unknown chain notice kind {notice.kind!r}")
    task = open_task(session, notice.subject, notice.subject_id)
    if task is None or task.brand_id != notice.brand_id or task.stage != notice.stage.name:
        return []
    stage = notice.stage
    named = stage.escalated_to if notice.kind == ESCALATED else stage.approvers
    target = _target(notice)
    out = []
    for user in _named(session, notice, list(named)):
        if user.id is None or user.id == notice.submitted_by:
            continue
        principal = principal_for(session, user)
        if any(
            may_decide(i.principal, stage.approvers, target, stage.excluded_user_ids)
            for i in identities(session, principal)
        ):
            out.append(user)
    return out


def compose_chain_notice(settings: Settings, notice: ChainNotice, user: User) -> EmailMessage:
    label = one_line(notice.label)
    subject = one_line(SUBJECTS[notice.kind].format(label=label))
    name = one_line(user.full_name) or user.email
    url = f"{settings.public_base_url.rstrip('/')}{notice.portal_path or '/inbox'}"
    lines = [
        f"Hello {name},",
        "",
        f"{label} waits for a decision at the stage {one_line(notice.stage.label)!r}.",
        "",
    ]
    if notice.due_at is not None:
        lines += [f"Due: {notice.due_at:%Y-%m-%d %H:%M} UTC", ""]
    lines += [f"Decide it in the portal: {url}", "", "-- ", "Brandrelay"]
    local, _, domain = user.email.rpartition("@")
    return compose(
        sender=settings.email_from,
        to=[Address(display_name=name, username=local, domain=domain)],
        subject=subject,
        text="\n".join(lines) + "\n",
        headers={"Auto-Submitted": "auto-generated"},
    )


def plan(session: Session, settings: Settings, notice: ChainNotice) -> list[Outgoing]:
    return [
        Outgoing(u.id, compose_chain_notice(settings, notice, u))
        for u in recipients(session, notice)
        if u.id is not None
    ]
