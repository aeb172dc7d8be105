"""A request never holds a database connection across an await: the routes run on one event
loop with synchronous sessions, and a request that holds one while it waits and a request that
checks one out on the loop block each other until the pool's timeout (core.db says more).
Authentication is the first place a request takes one; it gives it back."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.requests import Request

from api.security import current_principal
from core.security import issue_access_token, new_api_token
from core.settings import Settings
from models.org import ApiToken, User


def _request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": []})


def _admin(session: Session) -> User:
    return session.exec(select(User).where(User.email == "admin@northwind.example")).one()


def test_a_signed_in_request_holds_no_connection_after_authentication(
    demo: Engine, settings: Settings
) -> None:
    secret = settings.secret_key.get_secret_value()
    with Session(demo, expire_on_commit=False) as session:
        admin = _admin(session)
        session.commit()
        token = issue_access_token(secret, admin.id or 0, 600, generation=admin.session_generation)
        principal = current_principal(_request(), session, settings, token)
        assert principal.user_id == admin.id
        assert not session.in_transaction()


def test_an_api_token_is_marked_used_and_its_connection_given_back(
    demo: Engine, settings: Settings
) -> None:
    fresh = new_api_token()
    with Session(demo, expire_on_commit=False) as session:
        admin = _admin(session)
        row = ApiToken(
            user_id=admin.id or 0,
            brand_id=admin.brand_id,
            name="ci",
            prefix=fresh.prefix,
            token_hash=fresh.digest,
            created_by=admin.id or 0,
        )
        session.add(row)
        session.commit()
        principal = current_principal(_request(), session, settings, fresh.secret)
        assert principal.user_id == admin.id
        assert not session.in_transaction()
    with Session(demo) as other:  # written, not left pending in the request's transaction
        used = other.exec(select(ApiToken).where(ApiToken.prefix == fresh.prefix)).one()
        assert used.last_used_at is not None
