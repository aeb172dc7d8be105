"""The caller's own language and time zone. Not api.routers.preferences: that one is the
contacts' email preference centre. Every signed-in user reads and changes only their own."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api.deps import RequestIdDep, SessionDep
from api.security import SignedIn
from core.errors import NotFound
from models.org import User
from services import own_preferences as svc
from services.org import Actor

router = APIRouter(prefix="/api/v1", tags=["me"])


class PreferencesRead(BaseModel):
    locale: str = Field(description="The own choice; empty: automatic")
    timezone: str = Field(description="The own choice; empty: automatic")
    locale_in_use: str
    timezone_in_use: str
    locale_source: str = Field(description="own, partner or browser")
    timezone_source: str = Field(description="own, partner, brand or default")


class PreferencesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    locale: str | None = Field(None, max_length=10, description="en, de, nl; empty: automatic")
    timezone: str | None = Field(
        None, max_length=64, description="An IANA zone such as Europe/Amsterdam; empty: automatic"
    )


def _read(session: SessionDep, user_id: int, request: Request) -> PreferencesRead:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    found = svc.in_use(session, user, request.headers.get("accept-language"))
    return PreferencesRead(
        locale=found.chosen_locale,
        timezone=found.chosen_timezone,
        locale_in_use=found.locale,
        timezone_in_use=found.timezone,
        locale_source=found.locale_source,
        timezone_source=found.timezone_source,
    )


@router.get(
    "/me/preferences",
    response_model=PreferencesRead,
    summary="Read one's own language and time zone",
)
def read_my_preferences(
    principal: SignedIn, session: SessionDep, request: Request
) -> PreferencesRead:
    """The own choice (empty: automatic) and what is in use now, with where it comes from."""
    return _read(session, principal.user_id, request)


@router.patch(
    "/me/preferences",
    response_model=PreferencesRead,
    summary="Change one's own language and time zone",
)
def update_my_preferences(
    principal: SignedIn,
    session: SessionDep,
    rid: RequestIdDep,
    request: Request,
    body: PreferencesUpdate,
) -> PreferencesRead:
    """A field left out stays; an empty one goes back to automatic. Audited."""
    svc.update_own(session, Actor(principal, rid), locale=body.locale, timezone=body.timezone)
    return _read(session, principal.user_id, request)
