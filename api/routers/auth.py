"""Sign-in (OAuth2 password flow) and the caller's own profile."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import select

from api.deps import SessionDep, SettingsDep
from api.security import PublicRoute, SignedIn
from core.errors import NotFound, Unauthorized
from core.policy import effective_permissions
from core.security import issue_access_token
from models.org import Membership, User
from models.schemas import MembershipRead, MeRead, TokenResponse, UserRead
from services.accounts import authenticate

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/auth/token", response_model=TokenResponse)
def token(
    _: PublicRoute,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenResponse:
    user = authenticate(session, form.username, form.password)
    session.commit()  # keep failure counters even though we answer 401
    if user is None or user.id is None:
        raise Unauthorized("Incorrect email or password, or too many attempts; try again later")
    ttl = settings.access_token_ttl
    return TokenResponse(
        access_token=issue_access_token(settings.secret_key.get_secret_value(), user.id, ttl),
        expires_in=ttl,
    )


@router.get("/me", response_model=MeRead)
def me(principal: SignedIn, session: SessionDep) -> MeRead:
    user = session.get(User, principal.user_id)
    if user is None:
        raise NotFound("user", principal.user_id)
    rows = session.exec(select(Membership).where(Membership.user_id == user.id)).all()
    return MeRead(
        user=UserRead.model_validate(user),
        memberships=[MembershipRead.model_validate(m) for m in rows],
        permissions=effective_permissions(principal),
    )
