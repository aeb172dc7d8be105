"""The emails of approval chains that decide print orders and claims: who gets them (the
people the waiting stage names now, and their stand-ins, when they may decide) and what they
say (the object, the stage, the due time and a portal link). Plain text: the object's label
may carry partner text, and a text body cannot run it.

A notice whose stage is no longer waiting (decided before the email went out) goes to nobody.
"""

from __future__ import annotations

from email.message import EmailMessage

from sqlmodel import Session

from approvals.engine import may_decide, pool
from approvals.facts import ApprovalFacts
from approvals.policy import Approver
from core.policy import Target
from core.settings import Settings
from i18n.translate import N_
from i18n.translate import gettext as _
from models.base import utcnow
from models.chain_io import ChainNotice
from models.org import User
from services.accounts import principal_for
from services.approvals.chain_tasks import open_task
from services.approvals.delegations import identities
from services.approvals.facts import role_holders_at
from services.notifications import one_line
from services.speaking_to import local_time, speaking_to
from services.staff_mail import StaffMail, active_users, plain_notice, stand_ins

APPROVAL_PENDING = "approval_pending"
REMINDER = "reminder"
ESCALATED = "escalated"
KINDS = frozenset({APPROVAL_PENDING, REMINDER, ESCALATED})
SUBJECTS = {
    APPROVAL_PENDING: N_("Waiting for your approval: %(label)s"),
    REMINDER: N_("Reminder: %(label)s waits for your approval"),
    ESCALATED: N_("Escalated to you: %(label)s waits for a decision"),
}


class UnknownChainNotice(ValueError):
    """A kind this module does not know: retrying cannot help."""


def _target(notice: ChainNotice) -> Target:
    return Target(notice.brand_id, notice.region_id, notice.partner_id)


def _named(session: Session, notice: ChainNotice, approvers: list[Approver]) -> list[User]:
    holders = role_holders_at(session, _target(notice))
    ids = set(pool(approvers, ApprovalFacts(role_holders=holders)))
    ids |= stand_ins(session, ids, utcnow())
    return active_users(session, notice.brand_id, ids)


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
    """In the current language and zone (plan() speaks the user's)."""
    label = one_line(notice.label)
    body = [
        _(
            '%(label)s waits for a decision at the stage "%(stage)s".',
            label=label,
            stage=one_line(notice.stage.label),
        )
    ]
    if notice.due_at is not None:
        body += ["", _("Due: %(time)s", time=local_time(notice.due_at))]
    body += ["", _("Decide it in the portal:")]
    subject = _(SUBJECTS[notice.kind], label=label)
    return plain_notice(settings, user, subject, body, notice.portal_path or "/inbox")


def sent_key(notice: ChainNotice, user_id: int) -> str:
    return f"notice:{notice.key}:{user_id}"


def plan(session: Session, settings: Settings, notice: ChainNotice) -> list[StaffMail]:
    detail = {"kind": notice.kind, "stage": notice.stage.name}
    mails = []
    for u in recipients(session, notice):
        if u.id is None:
            continue
        with speaking_to(session, u):
            message = compose_chain_notice(settings, notice, u)
        mails.append(StaffMail(u.id, message, sent_key(notice, u.id), detail))
    return mails
