"""Sign-in and sign-out with the same accounts (and lockout) as the API's token route."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import ClientAddressDep, SessionDep, SettingsDep
from api.portal import session as cookies
from api.portal.web import (
    PortalOpen,
    PortalRoute,
    PortalUser,
    portal_session,
    render,
    set_session_cookie,
)
from i18n.translate import N_, gettext
from services.accounts import AddressLimit, authenticate
from services.sessions import end_sessions

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])
FAILED = N_("Incorrect email or password, or too many attempts; try again later.")
# A sign-in link from an email that cannot sign in (api.portal.link_pages).
LINK_REFUSED = N_("This sign-in link has expired or was already used. Please sign in to continue.")


def safe_next(target: str | None) -> str:
    """Only a path of this site: never an absolute URL or a scheme-relative one."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/inbox"
    return target


@router.get("/", response_class=RedirectResponse)
def home(_: PortalOpen) -> RedirectResponse:
    return RedirectResponse("/inbox", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(
    _: PortalOpen,
    request: Request,
    settings: SettingsDep,
    next: str | None = None,
    signed_out: bool = False,
    link: str | None = None,
) -> Response:
    """Starts an anonymous session when there is none, so the form carries a CSRF token."""
    found = portal_session(request, settings)
    fresh = found is None
    if found is None:
        found = cookies.new_session(settings, None)
        request.state.portal_session = found
    message = gettext("You are signed out.") if signed_out else ""
    if next and not signed_out:
        message = gettext("Please sign in to continue.")
    if link and not signed_out:
        message = gettext(LINK_REFUSED)
    response = render(
        request,
        "login.html",
        title=gettext("Sign in"),
        next=safe_next(next),
        email="",
        message=message,
        failed=False,
    )
    if fresh:
        set_session_cookie(response, settings, found)
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    _: PortalOpen,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: ClientAddressDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form(max_length=2000)] = "/inbox",
) -> Response:
    user = authenticate(session, email, password, client=client, limit=AddressLimit.of(settings))
    if user is None or user.id is None:
        return render(
            request,
            "login.html",
            status=401,
            title=gettext("Sign in"),
            next=safe_next(next),
            email=email,
            message=gettext(FAILED),
            failed=True,
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    found = cookies.new_session(settings, user.id, generation=user.session_generation)
    set_session_cookie(response, settings, found)
    return response


@router.post("/logout", response_class=RedirectResponse)
def logout(principal: PortalUser, session: SessionDep) -> Response:
    """Ends every portal session and access token of the user, not only this browser's."""
    end_sessions(session, principal.user_id)
    response = RedirectResponse("/login?signed_out=true", status_code=303)
    response.delete_cookie(cookies.COOKIE, path="/")
    return response
