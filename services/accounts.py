"""Sign-in, lockout, the per-address throttle and turning a bearer token into a Principal.

Both the API's token route and the portal's sign-in form call `sign_in`. Its counters are
changed by single SQL statements in short transactions of their own, never read, changed in
Python and written back, so parallel guesses cannot lose updates:

- Per account: a wrong password adds one to `failed_logins` in an UPDATE that skips a locked
  account; the value it returns decides the lock (MAX_FAILED_LOGINS failures lock for
  LOCKOUT). However many guesses run in parallel, exactly MAX_FAILED_LOGINS are counted; the
  others meet the lock and are refused whatever the password.
- Per client address: every attempt first takes a slot in its address's window (an upsert that
  returns the count); beyond the limit it is refused without checking the password, and a
  successful sign-in gives its slot back. So at most `max_failures` passwords are tried per
  address and window, across all accounts, however parallel.

No lock is held while the password hash is checked (argon2: about 0.3 s on a small machine). The
caller learns nothing about why a sign-in failed; `Outcome` is for tests and logs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from core.client_address import UNKNOWN
from core.errors import FieldError
from core.policy import Grant, Principal
from core.security import (
    api_token_prefix,
    digests_match,
    hash_password,
    read_access_token,
    token_digest,
    verify_password,
)
from core.settings import Settings
from domain.roles import Role, ScopeType
from models.base import utcnow
from models.org import ApiToken, Membership, User
from models.signin import SignInThrottle
from services import org
from services.audit import begin_write
from services.password_rules import password_problem
from services.sessions import end_sessions

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
# Counters change through Core statements on the tables (with RETURNING), not ORM objects.
_USERS = User.__table__  # type: ignore[attr-defined]
_THROTTLE = SignInThrottle.__table__  # type: ignore[attr-defined]


class Outcome(StrEnum):
    signed_in = "signed_in"
    refused = "refused"  # wrong password, unknown or inactive account: counted
    locked = "locked"  # the account is locked: not counted, the password does not matter
    throttled = "throttled"  # too many failures from the address: the password is not checked


@dataclass(frozen=True)
class AddressLimit:
    """At most `max_failures` failed sign-ins per client address in each fixed window."""

    max_failures: int = 30
    window_seconds: int = 900

    @classmethod
    def of(cls, settings: Settings) -> AddressLimit:
        return cls(settings.signin_address_max_failures, settings.signin_address_window)

    def window_start(self, now: datetime) -> int:
        epoch = int(now.timestamp())
        return epoch - epoch % self.window_seconds


@dataclass(frozen=True)
class SignIn:
    outcome: Outcome
    user: User | None = None


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _write(session: Session, *statements: Any) -> list[Any]:
    """Run `statements` in one short transaction of their own and commit; the first column of
    each statement's first returned row (None without RETURNING or rows)."""
    begin_write(session)  # SQLite: the write lock before anything is read
    found = []
    for stmt in statements:
        result = session.execute(stmt)
        rows = result.all() if getattr(result, "returns_rows", False) else []
        found.append(rows[0][0] if rows else None)
    session.commit()
    return found


def _take_address_slot(session: Session, client: str, window: int, limit: AddressLimit) -> bool:
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    upsert = (
        insert(_THROTTLE)
        .values(client=client, window_start=window, failures=1)
        .on_conflict_do_update(
            index_elements=["client", "window_start"],
            set_={"failures": _THROTTLE.c.failures + 1},
        )
        .returning(_THROTTLE.c.failures)
    )
    stale = delete(_THROTTLE).where(_THROTTLE.c.window_start < window)
    _, count = _write(session, stale, upsert)
    return int(count) <= limit.max_failures


def _give_address_slot_back(session: Session, client: str, window: int) -> None:
    _write(
        session,
        update(_THROTTLE)
        .where(
            _THROTTLE.c.client == client,
            _THROTTLE.c.window_start == window,
            _THROTTLE.c.failures > 0,
        )
        .values(failures=_THROTTLE.c.failures - 1),
    )


def _not_locked(now: datetime) -> Any:
    return or_(_USERS.c.locked_until.is_(None), _USERS.c.locked_until <= now)


def _count_failure(session: Session, user_id: int, now: datetime) -> bool:
    """Adds the failure unless the account is locked; False when it was locked."""
    begin_write(session)
    rows = session.execute(
        update(_USERS)
        .where(_USERS.c.id == user_id, _not_locked(now))
        .values(failed_logins=_USERS.c.failed_logins + 1)
        .returning(_USERS.c.failed_logins)
    ).all()
    failures = rows[0][0] if rows else None
    if failures is not None and failures >= MAX_FAILED_LOGINS:
        # Still in the same transaction: the row stays locked (PostgreSQL) or the whole
        # database does (SQLite) until the commit, so no other attempt sees the count between.
        session.execute(
            update(_USERS)
            .where(_USERS.c.id == user_id)
            .values(failed_logins=0, locked_until=now + LOCKOUT)
        )
    session.commit()
    return failures is not None


def _clear_failures(session: Session, user_id: int, now: datetime) -> bool:
    """Resets the counter of an active, unlocked account; False when it is locked (a correct
    password during the lock still fails)."""
    [touched] = _write(
        session,
        update(_USERS)
        .where(_USERS.c.id == user_id, _USERS.c.is_active, _not_locked(now))
        .values(failed_logins=0, locked_until=None)
        .returning(_USERS.c.id),
    )
    return touched is not None


def sign_in(
    session: Session,
    email: str,
    password: str,
    *,
    client: str = UNKNOWN,
    limit: AddressLimit | None = None,
    now: datetime | None = None,
) -> SignIn:
    """Check credentials from `client` (core.client_address). Commits as it goes: each counter
    change is its own short transaction, so call it before anything else in the session."""
    now = now or utcnow()
    limit = limit or AddressLimit()
    window = limit.window_start(now)
    if not _take_address_slot(session, client, window, limit):
        return SignIn(Outcome.throttled)
    user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    # Verified in every case (a dummy hash for unknown accounts) so timing reveals nothing.
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None or user.id is None or not user.is_active:
        return SignIn(Outcome.refused)
    if password_ok:
        if not _clear_failures(session, user.id, now):
            return SignIn(Outcome.locked)
        _give_address_slot_back(session, client, window)
        session.refresh(user)
        return SignIn(Outcome.signed_in, user)
    counted = _count_failure(session, user.id, now)
    return SignIn(Outcome.refused if counted else Outcome.locked)


def authenticate(
    session: Session,
    email: str,
    password: str,
    *,
    client: str = UNKNOWN,
    limit: AddressLimit | None = None,
    now: datetime | None = None,
) -> User | None:
    """The user for correct credentials, else None; the caller cannot tell why."""
    return sign_in(session, email, password, client=client, limit=limit, now=now).user


def change_password(
    session: Session,
    actor: org.Actor,
    current_password: str,
    new_password: str,
    *,
    client: str = UNKNOWN,
    limit: AddressLimit | None = None,
) -> User:
    """The caller's own password. The current password is checked like a sign-in (a wrong one
    counts towards the lockout, so a stolen token cannot be used to guess it); afterwards every
    access token and portal session of the user ends. API tokens stay valid: they are
    integration credentials, revoked one by one through /api/v1/api-tokens."""
    user = session.get(User, actor.principal.user_id)
    if user is None or user.id is None:
        raise FieldError("current_password", "this account no longer exists")
    problem = password_problem(new_password, user.email)
    if problem is None and new_password == current_password:
        problem = "must differ from the current password"
    if problem is not None:
        raise FieldError("new_password", problem)
    checked = sign_in(session, user.email, current_password, client=client, limit=limit)
    if checked.outcome != Outcome.signed_in:
        raise FieldError(
            "current_password",
            "is not your current password, or there were too many attempts; try again later",
        )
    user.password_hash = hash_password(new_password)
    session.add(user)
    session.flush()
    end_sessions(session, user.id)
    session.refresh(user)
    org.record(session, actor, "user.password_changed", user, None, None)
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
    """Accept a signed access token of the user's current session generation, or an API
    token; None when neither is valid now."""
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
        claims = read_access_token(secret, token)
        if claims is not None:
            user = session.get(User, claims.user_id)
            if user is not None and user.session_generation != claims.generation:
                return None
    if user is None or not user.is_active:
        return None
    return principal_for(session, user)


def display_name(user: User) -> str:
    """How people are shown to each other: their name, else their email address."""
    return user.full_name or user.email


def display_names(
    session: Session, ids: Iterable[int], brand_id: int | None = None
) -> dict[int, str]:
    """Display names of the users among `ids` (of `brand_id` only, when given)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    stmt = select(User).where(col(User.id).in_(wanted))
    if brand_id is not None:
        stmt = stmt.where(User.brand_id == brand_id)
    return {u.id or 0: display_name(u) for u in session.exec(stmt).all()}


def active_users(session: Session, brand_id: int) -> list[User]:
    """The brand's people with active accounts, by name: whom a policy or a delegation may name."""
    return list(
        session.exec(
            select(User)
            .where(User.brand_id == brand_id, col(User.is_active))
            .order_by(col(User.full_name), col(User.email))
        ).all()
    )
