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
from models.approval_schemas import INT64_MAX, DelegationRead, Direction
from models.approvals import Delegation
from models.base import utcnow
from models.org import User
from services.accounts import display_names, principal_for
from services.campaigns import aware
from services.org import Actor, record, snapshot
from services.paging import Key, Listing, Paged, PageRequest, fetch

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
    actor: Actor,
    delegate_id: int | None,
    starts_at: datetime,
    ends_at: datetime,
    note: str = "",
    *,
    delegate_email: str | None = None,
) -> Delegation:
    """The caller's own delegation; a colleague of the same brand (named by id or by email
    address), for at most a year. Audited."""
    principal = actor.principal
    delegate, field = _delegate(session, principal, delegate_id, delegate_email)
    if delegate.id == principal.user_id:
        raise FieldError(field, "name someone else: you are the approver")
    if ends_at <= starts_at:
        raise FieldError("ends_at", "must be after starts_at")
    if ends_at <= utcnow():
        raise FieldError("ends_at", "must be in the future")
    if ends_at - starts_at > MAX_LENGTH:
        raise FieldError("ends_at", "a delegation lasts at most a year")
    row = Delegation(
        brand_id=principal.brand_id,
        user_id=principal.user_id,
        delegate_id=delegate.id or 0,
        starts_at=starts_at,
        ends_at=ends_at,
        note=note,
    )
    session.add(row)
    session.flush()
    record(session, actor, "delegation.created", row, None, snapshot(row))
    return row


def _delegate(
    session: Session, principal: Principal, delegate_id: int | None, email: str | None
) -> tuple[User, str]:
    """The named colleague and the field that named them; a user of another brand, inactive
    or unknown is refused alike."""
    if (delegate_id is None) == (email is None):
        raise FieldError("delegate_id", "name the delegate by delegate_id or delegate_email")
    if delegate_id is not None:
        found = session.get(User, delegate_id) if delegate_id <= INT64_MAX else None
        field, shown = "delegate_id", f"user {delegate_id}"
    else:
        address = (email or "").strip().lower()
        found = session.exec(select(User).where(User.email == address)).first()
        field, shown = "delegate_email", f"{address!r}"
    if found is None or found.brand_id != principal.brand_id or not found.is_active:
        raise FieldError(field, f"{shown} is not an active user of your brand")
    return found, field


DELEGATIONS = Listing(
    "delegations",
    col(Delegation.id),
    {
        "starts_at": Key(col(Delegation.starts_at), "datetime"),
        "ends_at": Key(col(Delegation.ends_at), "datetime"),
        "created_at": Key(col(Delegation.created_at), "datetime"),
    },
    default="starts_at",
)


def page_of_mine(
    session: Session,
    principal: Principal,
    paging: PageRequest,
    direction: Direction | None = None,
    sort: str = DELEGATIONS.default,
) -> Paged[Delegation]:
    """A page of `mine`, given (by the caller), received (to the caller) or both."""
    me = principal.user_id
    if direction == Direction.given:
        who = col(Delegation.user_id) == me
    elif direction == Direction.received:
        who = col(Delegation.delegate_id) == me
    else:
        who = (col(Delegation.user_id) == me) | (col(Delegation.delegate_id) == me)
    stmt = select(Delegation).where(
        who,
        Delegation.brand_id == principal.brand_id,
        col(Delegation.revoked_at).is_(None),
        col(Delegation.ends_at) > utcnow(),
    )
    return fetch(session, stmt, DELEGATIONS, sort, paging)


def mine(session: Session, principal: Principal) -> list[Delegation]:
    """The caller's delegations, to others and from others, not yet over or revoked."""
    now = utcnow()
    return list(
        session.exec(
            select(Delegation)
            .where(
                (Delegation.user_id == principal.user_id)
                | (Delegation.delegate_id == principal.user_id),
                Delegation.brand_id == principal.brand_id,
                col(Delegation.revoked_at).is_(None),
                col(Delegation.ends_at) > now,
            )
            .order_by(col(Delegation.starts_at), col(Delegation.id))
        ).all()
    )


def revoke(session: Session, actor: Actor, delegation_id: int) -> Delegation:
    """Only the approver who delegated revokes (404 for anyone else); revoking twice changes
    nothing. Audited."""
    principal = actor.principal
    row = session.get(Delegation, delegation_id) if delegation_id <= INT64_MAX else None
    if row is None or row.user_id != principal.user_id:
        raise NotFound("delegation", delegation_id)
    if row.revoked_at is None:
        before = snapshot(row)
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
        record(session, actor, "delegation.revoked", row, before, snapshot(row))
    return row


def delegation_reads(
    session: Session, principal: Principal, rows: list[Delegation]
) -> list[DelegationRead]:
    names = display_names(session, {r.user_id for r in rows} | {r.delegate_id for r in rows})
    now = utcnow()

    def name(user_id: int) -> str:
        return names.get(user_id, f"user {user_id}")

    return [
        DelegationRead(
            id=r.id or 0,
            direction=Direction.given if r.user_id == principal.user_id else Direction.received,
            user_id=r.user_id,
            user_name=name(r.user_id),
            delegate_id=r.delegate_id,
            delegate_name=name(r.delegate_id),
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            note=r.note,
            active=r.revoked_at is None and aware(r.starts_at) <= now < aware(r.ends_at),
            created_at=r.created_at,
            revoked_at=r.revoked_at,
        )
        for r in rows
    ]
