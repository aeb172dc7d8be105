"""The preference centre's pages: GET /p/{token} shows what the club holds and the choices;
each choice is a POST form to /p/{token}/{action}.

Public like the unsubscribe pages (api.routers.unsubscribe, same headers): the signed token in
the path is the credential, so no sign-in and no CSRF token (a forged POST needs the token and
could only act on the token's own contact; the CSP allows forms to post to this site only).
GET changes nothing, because mail scanners fetch links. Rendered with autoescape: the contact's
name and attributes are data. Erasing needs a ticked confirmation box.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from api.deps import RequestIdDep, SessionDep, SettingsDep
from api.routers.unsubscribe import HEADERS
from api.security import PublicRoute
from core.errors import FieldError
from services.engagement import preferences as svc

router = APIRouter(tags=["preferences"], include_in_schema=False)

_PAGES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "pages"),
    autoescape=True,
    undefined=StrictUndefined,
)
UNKNOWN = "This link is not valid. If you keep receiving mail, reply to it and ask."


def _page(
    title: str,
    *,
    paragraphs: list[str] | None = None,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    values.setdefault("held", None)
    values.setdefault("notice", "")
    values.setdefault("error", False)
    html = _PAGES.get_template("preferences.html").render(
        title=title, paragraphs=paragraphs or [], **values
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _not_found() -> HTMLResponse:
    return _page("Link not found", paragraphs=[UNKNOWN], status=404)


def _gone(holder: svc.Holder) -> HTMLResponse:
    return _page(
        "Your preferences",
        paragraphs=[f"{holder.partner.display_name} holds no data about you any more."],
    )


def _show(
    session: SessionDep,
    holder: svc.Holder,
    token: str,
    notice: str = "",
    *,
    status: int = 200,
    error: bool = False,
) -> HTMLResponse:
    if holder.contact is None:
        return _gone(holder)
    return _page(
        "Your preferences",
        status=status,
        held=svc.what_we_hold(session, holder),
        languages=svc.languages(holder),
        channels=svc.channels(holder),
        club=holder.partner.display_name,
        brand=holder.brand.name,
        base=f"/p/{token}",
        notice=notice,
        error=error,
    )


@router.get("/p/{token}", response_class=HTMLResponse, summary="Show the preference centre")
def preferences_page(
    _: PublicRoute, session: SessionDep, settings: SettingsDep, token: str
) -> HTMLResponse:
    """Shows what is held and the choices; changes nothing."""
    if token == "preview":  # noqa: S105 - the sample link of previews, not a secret
        return _page(
            "Your preferences",
            paragraphs=["This is a sample email: the recipients' own links open their page."],
        )
    holder = svc.resolve(session, settings, token)
    if holder is None:
        return _not_found()
    return _show(session, holder, token)


def _for_contact(
    session: SessionDep,
    settings: SettingsDep,
    token: str,
    act: Callable[[svc.Holder], HTMLResponse],
) -> HTMLResponse:
    """Run a choice for the contact the link names: a page saying so when the link is not
    ours (404) or the contact was erased since; every form goes through here."""
    holder = svc.resolve(session, settings, token)
    if holder is None:
        return _not_found()
    if holder.contact is None:
        return _gone(holder)
    return act(holder)


@router.post(
    "/p/{token}/language", response_class=HTMLResponse, summary="Change the preferred language"
)
def change_language(
    _: PublicRoute,
    session: SessionDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    token: str,
    language: Annotated[str, Form(max_length=10)] = "",
) -> HTMLResponse:
    def act(holder: svc.Holder) -> HTMLResponse:
        try:
            svc.set_language(session, holder, language, request_id)
        except FieldError as err:
            return _show(session, holder, token, str(err), status=422, error=True)
        return _show(session, holder, token, "Your language is saved.")

    return _for_contact(session, settings, token, act)


@router.post("/p/{token}/channel", response_class=HTMLResponse, summary="Choose email or SMS")
def change_channel(
    _: PublicRoute,
    session: SessionDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    token: str,
    channel: Annotated[str, Form(max_length=10)] = "",
) -> HTMLResponse:
    def act(holder: svc.Holder) -> HTMLResponse:
        try:
            svc.set_channel(session, holder, channel, request_id)
        except FieldError as err:
            return _show(session, holder, token, str(err), status=422, error=True)
        return _show(session, holder, token, "Your choice is saved.")

    return _for_contact(session, settings, token, act)


@router.post("/p/{token}/sms-withdraw", response_class=HTMLResponse, summary="Withdraw SMS consent")
def withdraw_sms(
    _: PublicRoute, session: SessionDep, settings: SettingsDep, request_id: RequestIdDep, token: str
) -> HTMLResponse:
    def act(holder: svc.Holder) -> HTMLResponse:
        svc.withdraw_sms(session, holder, request_id)
        club = holder.partner.display_name
        return _show(session, holder, token, f"You will receive no more SMS from {club}.")

    return _for_contact(session, settings, token, act)


@router.post(
    "/p/{token}/unsubscribe-club",
    response_class=HTMLResponse,
    summary="Unsubscribe from the club's emails",
)
def unsubscribe_club(
    _: PublicRoute, session: SessionDep, settings: SettingsDep, request_id: RequestIdDep, token: str
) -> HTMLResponse:
    def act(holder: svc.Holder) -> HTMLResponse:
        svc.leave_club(session, holder, request_id)
        club = holder.partner.display_name
        return _show(session, holder, token, f"You will receive no more emails from {club}.")

    return _for_contact(session, settings, token, act)


@router.post(
    "/p/{token}/unsubscribe-brand",
    response_class=HTMLResponse,
    summary="Unsubscribe from the brand's emails",
)
def unsubscribe_brand(
    _: PublicRoute, session: SessionDep, settings: SettingsDep, request_id: RequestIdDep, token: str
) -> HTMLResponse:
    def act(holder: svc.Holder) -> HTMLResponse:
        svc.leave_brand(session, holder, request_id)
        note = f"You will receive no more emails from any {holder.brand.name} club."
        return _show(session, holder, token, note)

    return _for_contact(session, settings, token, act)


@router.post("/p/{token}/erase", response_class=HTMLResponse, summary="Erase one's data")
def erase(
    _: PublicRoute,
    session: SessionDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    token: str,
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> HTMLResponse:
    def act(holder: svc.Holder) -> HTMLResponse:
        if confirm != "yes":
            note = "confirm: tick the box to erase your data."
            return _show(session, holder, token, note, status=422, error=True)
        svc.erase(session, holder, request_id)
        return _page(
            "Your data is erased",
            paragraphs=[f"{holder.partner.display_name} holds no data about you any more."],
        )

    return _for_contact(session, settings, token, act)
