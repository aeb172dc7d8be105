"""Sign-in links from partner emails (services.signin_links): GET shows, only POST signs in.

GET never uses the link, because mail scanners and link previewers fetch links on their own:
it shows one button (a form with the CSRF token of the visitor's anonymous session, so
another site cannot sign a browser in to an account of its choosing). Someone already signed
in as the link's user goes straight to the form. A link that cannot sign in sends the visitor
to the sign-in page with the campaign's form as the next page.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from api.deps import SessionDep, SettingsDep
from api.portal import session as cookies
from api.portal.web import PortalOpen, PortalRoute, portal_session, render, set_session_cookie
from models.org import User
from services import signin_links
from services.preferences import preferences_for

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])


def _to_sign_in(found: signin_links.Verdict) -> RedirectResponse:
    query = urlencode({"next": found.next_path, "link": found.reason or "invalid"}, safe="/")
    return RedirectResponse(f"/login?{query}", status_code=303)


def _signed_in_as(session: Session, current: cookies.PortalSession | None, user_id: int) -> bool:
    if current is None or current.user_id != user_id:
        return False
    user = session.get(User, user_id)
    return user is not None and user.is_active and user.session_generation == current.generation


@router.get("/portal-link/{token}", response_class=HTMLResponse)
def signin_link_page(
    _: PortalOpen, request: Request, session: SessionDep, settings: SettingsDep, token: str
) -> Response:
    found = signin_links.check(session, settings, token)
    current = portal_session(request, settings)
    if found.token is not None and _signed_in_as(session, current, found.token.user_id):
        # Already signed in as the link's user (a used link opened again): the form's own
        # guard decides the rest.
        return RedirectResponse(found.next_path, status_code=303)
    if found.user is None:
        return _to_sign_in(found)
    fresh = current is None or current.user_id is not None
    if fresh:
        current = cookies.new_session(settings, None)
        request.state.portal_session = current
    request.state.preferences = preferences_for(
        session, found.user, request.headers.get("accept-language")
    )
    response = render(
        request,
        "signin_link.html",
        title="Open your campaign",
        token=token,
        name=found.user.full_name or found.user.email,
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    if fresh and current is not None:
        set_session_cookie(response, settings, current)
    return response


@router.post("/portal-link/{token}", response_class=RedirectResponse)
def use_signin_link(
    _: PortalOpen, request: Request, session: SessionDep, settings: SettingsDep, token: str
) -> Response:
    found = signin_links.redeem(
        session, settings, token, request_id=getattr(request.state, "request_id", None)
    )
    if found.user is None or found.user.id is None:
        return _to_sign_in(found)
    response = RedirectResponse(found.next_path, status_code=303)
    fresh = cookies.new_session(settings, found.user.id, generation=found.user.session_generation)
    set_session_cookie(response, settings, fresh)
    return response
