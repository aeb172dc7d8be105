"""Sign-in, lockout and turning a bearer token into a Principal."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from core.policy import Grant, Principal
from core.security import (
    api_token_prefix,
    digests_match,
    read_access_token,
    token_digest,
    verify_password,
)
from models.base import utcnow
from models.org import ApiToken, Membership, User
from models.roles import Role, ScopeType

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def authenticate(
    session: Session, email: str, password: str, now: datetime | None = None
) -> User | None:
    """The user for correct credentials, else None; the caller cannot tell why.

    After MAX_FAILED_LOGINS failures an account is locked for LOCKOUT, even for the right
    password; the password hash is verified in every case so timing reveals nothing.
    """
    now = now or utcnow()
    user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None or not user.is_active:
        return None
    if user.locked_until is not None and user.locked_until > now:
        return None
    if not password_ok:
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
        session.add(user)
        return None
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    return user


def principal_for(session: Session, user: User) -> Principal:
    assert user.id is not None
    rows = session.exec(select(Membership).where(Membership.user_id == user.id)).all()
    grants = tuple(
        Grant(
            role=Role(m.role),
            scope=ScopeType(m.scope_type),
            brand_id=m.brand_id,
            region_id=m.region_id,
            partner_id=m.partner_id,
        )
        for m in rows
        if m.brand_id == user.brand_id  # a membership never crosses brands
    )
    return Principal(user_id=user.id, brand_id=user.brand_id, email=user.email, grants=grants)


def principal_from_bearer(session: Session, secret: str, token: str) -> Principal | None:
    """Accept a signed access token or an API token; None when neither is valid now."""
    now = utcnow()
    user: User | None = None
    prefix = api_token_prefix(token)
    if prefix is not None:
        row = session.exec(select(ApiToken).where(ApiToken.prefix == prefix)).first()
        if (
            row is None
            or not digests_match(row.token_hash, token_digest(token))
            or row.revoked_at is not None
            or (row.expires_at is not None and row.expires_at <= now)
        ):
            return None
        row.last_used_at = now
        session.add(row)
        user = session.get(User, row.user_id)
    else:
        user_id = read_access_token(secret, token)
        if user_id is not None:
            user = session.get(User, user_id)
    if user is None or not user.is_active:
        return None
    return principal_for(session, user)
