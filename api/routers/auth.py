"""Sign-in (OAuth2 password flow), sign-out, and the caller's own profile and password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import select

from api.deps import ClientAddressDep, RequestIdDep, SessionDep, SettingsDep
from api.security import PublicRoute, SignedIn
from core.errors import NotFound, Unauthorized
from core.policy import effective_permissions
from core.security import issue_access_token
from core.settings import Settings
from models.org import Membership, User
from models.schemas import MembershipRead, MeRead, PasswordChange, TokenResponse, UserRead
from services import org
from services.accounts import AddressLimit, authenticate, change_password
from services.sessions import end_sessions

router = APIRouter(prefix="/api/v1", tags=["auth"])


def _token_for(settings: Settings, user: User) -> TokenResponse:
    assert user.id is not None
    ttl = settings.access_token_ttl
    secret = settings.secret_key.get_secret_value()
    return TokenResponse(
        access_token=issue_access_token(secret, user.id, ttl, generation=user.session_generation),
        expires_in=ttl,
    )


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    summary="Sign in: exchange email and password for an access token",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "example": {"username": "admin@northwind.example", "password": "demo-password"}
                }
            }
        }
    },
)
def create_access_token(
    _: PublicRoute,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    client: ClientAddressDep,
) -> TokenResponse:
    user = authenticate(
        session, form.username, form.password, client=client, limit=AddressLimit.of(settings)
    )
    if user is None or user.id is None:
        raise Unauthorized("Incorrect email or password, or too many attempts; try again later")
    return _token_for(settings, user)


@router.post(
    "/auth/logout",
    status_code=204,
    summary="Sign out everywhere (ends access tokens and portal sessions)",
)
def sign_out(principal: SignedIn, session: SessionDep) -> Response:
    """Ends every access token and portal session of the caller (they are stateless: there is
    no ending just one). API tokens stay valid; they are revoked through /api/v1/api-tokens."""
    end_sessions(session, principal.user_id)
    return Response(status_code=204)


@router.get("/me", response_model=MeRead, summary="Read the signed-in user with roles")
def read_me(principal: SignedIn, session: SessionDep) -> MeRead:
    user = session.get(User, principal.user_id)
    if user is None:
        raise NotFound("user", principal.user_id)
    rows = session.exec(select(Membership).where(Membership.user_id == user.id)).all()
    return MeRead(
        user=UserRead.model_validate(user),
        memberships=[MembershipRead.model_validate(m) for m in rows],
        permissions=effective_permissions(principal),
    )


@router.post("/me/password", response_model=TokenResponse, summary="Change one's own password")
def change_own_password(
    principal: SignedIn,
    session: SessionDep,
    settings: SettingsDep,
    rid: RequestIdDep,
    client: ClientAddressDep,
    body: PasswordChange,
) -> TokenResponse:
    """Every access token and portal session of the caller ends, this request's too; the
    answer is a new access token, so the client carries on without signing in again."""
    user = change_password(
        session,
        org.Actor(principal, rid),
        body.current_password,
        body.new_password,
        client=client,
        limit=AddressLimit.of(settings),
    )
    return _token_for(settings, user)
