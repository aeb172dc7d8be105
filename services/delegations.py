"""Delegation: an approver names a stand-in for a period (a holiday). The delegate sees the
approver's tasks and decides in their own name; the chain counts the decision for the
approver and the audit trail says "on behalf of".

A delegation lends the approver's approvals only, nothing else: the delegate reads the
partner campaigns those tasks are about, and decides them, with the approver's grants; every
other permission stays the delegate's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from core.errors import FieldError, NotFound
from core.policy import Principal
from models.approvals import Delegation
from models.base import utcnow
from models.org import User
from services.accounts import principal_for

MAX_LENGTH = timedelta(days=366)


@dataclass(frozen=True)
class Identity:
    """Someone the caller may act as on approvals: themselves, or an approver who delegated
    to them (`for_user` set)."""

    principal: Principal
    for_user: int | None = None


def active(session: Session, delegate_id: int, now: datetime | None = None) -> list[Delegation]:
    now = now or utcnow()
    return list(
        session.exec(
            select(Delegation).where(
                Delegation.delegate_id == delegate_id,
                col(Delegation.revoked_at).is_(None),
                col(Delegation.starts_at) <= now,
                col(Delegation.ends_at) > now,
            )
        ).all()
    )


def identities(
    session: Session, principal: Principal, now: datetime | None = None
) -> list[Identity]:
    """The caller, then every approver whose delegation to the caller runs now (active users
    of the same brand only; their grants as they are now)."""
    out = [Identity(principal)]
    for delegation in active(session, principal.user_id, now):
        user = session.get(User, delegation.user_id)
        if user is None or not user.is_active or user.brand_id != principal.brand_id:
            continue
        out.append(Identity(principal_for(session, user), for_user=user.id))
    return out


def create(
    session: Session,
    principal: Principal,
    delegate_id: int,
    starts_at: datetime,
    ends_at: datetime,
    note: str = "",
) -> Delegation:
    """The caller's own delegation; a colleague of the same brand, for at most a year."""
    delegate = session.get(User, delegate_id)
    if delegate is None or delegate.brand_id != principal.brand_id or not delegate.is_active:
        raise FieldError("delegate_id", f"user {delegate_id} does not exist in your brand")
    if delegate_id == principal.user_id:
        raise FieldError("delegate_id", "name someone else: you are the approver")
    if ends_at <= starts_at:
        raise FieldError("ends_at", "must be after starts_at")
    if ends_at <= utcnow():
        raise FieldError("ends_at", "must be in the future")
    if ends_at - starts_at > MAX_LENGTH:
        raise FieldError("ends_at", "a delegation lasts at most a year")
    row = Delegation(
        brand_id=principal.brand_id,
        user_id=principal.user_id,
        delegate_id=delegate_id,
        starts_at=starts_at,
        ends_at=ends_at,
        note=note,
    )
    session.add(row)
    session.flush()
    return row


def mine(session: Session, principal: Principal) -> list[Delegation]:
    """The caller's delegations, to others and from others, not yet over or revoked."""
    now = utcnow()
    return list(
        session.exec(
            select(Delegation)
            .where(
                (Delegation.user_id == principal.user_id)
                | (Delegation.delegate_id == principal.user_id),
                col(Delegation.revoked_at).is_(None),
                col(Delegation.ends_at) > now,
            )
            .order_by(col(Delegation.starts_at))
        ).all()
    )


def revoke(session: Session, principal: Principal, delegation_id: int) -> Delegation:
    row = session.get(Delegation, delegation_id)
    if row is None or row.user_id != principal.user_id:
        raise NotFound("delegation", delegation_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
    return row
