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
from i18n import formats
from i18n.catalogues import language_of
from i18n.context import current_locale, set_current
from i18n.translate import N_, gettext, ngettext
from i18n.translate import gettext as _
from services.engagement import preferences as svc

router = APIRouter(tags=["preferences"], include_in_schema=False)

# In the member's language: gettext in the template (i18n.translate) and the date filter of
# the portal (i18n.formats), under speaking(member language) for each page.
_PAGES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    extensions=["jinja2.ext.i18n"],
)
_PAGES.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
_PAGES.filters["day"] = formats.day
_PAGES.filters["language_name"] = formats.language_name
UNKNOWN = N_("This link is not valid. If you keep receiving mail, reply to it and ask.")
CONSENT_WORDS = {
    "granted": N_("given"),
    "denied": N_("withdrawn"),
    "unknown": N_("not known"),
}


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
        lang=language_of(current_locale()),
        title=title,
        paragraphs=paragraphs or [],
        consent_words={k: _(v) for k, v in CONSENT_WORDS.items()},
        **values,
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _not_found() -> HTMLResponse:
    return _page(_("Link not found"), paragraphs=[_(UNKNOWN)], status=404)


def _gone(holder: svc.Holder) -> HTMLResponse:
    gone = _("%(sender)s holds no data about you any more.", sender=holder.partner.display_name)
    return _page(_("Your preferences"), paragraphs=[gone])


def _speak_to(holder: svc.Holder) -> None:
    """The rest of the request in the member's language (their contact's, else the club's)."""
    own = holder.contact.locale if holder.contact is not None else ""
    set_current(own or holder.partner.locale or None)


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
        _("Your preferences"),
        status=status,
        held=svc.what_we_hold(session, holder),
        languages={code: formats.language_name(code) for code in svc.languages(holder)},
        channels=svc.channels(holder),
        club=holder.partner.display_name,
        brand=holder.brand.name,
        base=f"/p/{token}",
        notice=notice,
        error=error,
    )


@router.get("/p/{token}", response_class=HTMLResponse, summary="Show the preference centre")
def preferences_page(
    _public: PublicRoute, session: SessionDep, settings: SettingsDep, token: str
) -> HTMLResponse:
    """Shows what is held and the choices; changes nothing."""
    if token == "preview":  # noqa: S105 - the sample link of previews, not a secret
        return _page(
            _("Your preferences"),
            paragraphs=[_("This is a sample email: the recipients' own links open their page.")],
        )
    holder = svc.resolve(session, settings, token)
    if holder is None:
        return _not_found()
    _speak_to(holder)
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
    _speak_to(holder)
    if holder.contact is None:
        return _gone(holder)
    return act(holder)


@router.post(
    "/p/{token}/language", response_class=HTMLResponse, summary="Change the preferred language"
)
def change_language(
    _public: PublicRoute,
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
        _speak_to(holder)  # the page answers in the language just chosen
        return _show(session, holder, token, _("Your language is saved."))

    return _for_contact(session, settings, token, act)


@router.post("/p/{token}/channel", response_class=HTMLResponse, summary="Choose email or SMS")
def change_channel(
    _public: PublicRoute,
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
        return _show(session, holder, token, _("Your choice is saved."))

    return _for_contact(session, settings, token, act)


@router.post("/p/{token}/sms-withdraw", response_class=HTMLResponse, summary="Withdraw SMS consent")
def withdraw_sms(
    _public: PublicRoute,
    session: SessionDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    token: str,
) -> HTMLResponse:
    def act(holder: svc.Holder) -> HTMLResponse:
        svc.withdraw_sms(session, holder, request_id)
        note = _(
            "You will receive no more SMS from %(sender)s.", sender=holder.partner.display_name
        )
        return _show(session, holder, token, note)

    return _for_contact(session, settings, token, act)


@router.post(
    "/p/{token}/unsubscribe-club",
    response_class=HTMLResponse,
    summary="Unsubscribe from the club's emails",
)
def unsubscribe_club(
    _public: PublicRoute,
    session: SessionDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    token: str,
) -> HTMLResponse:
    def act(holder: svc.Holder) -> HTMLResponse:
        svc.leave_club(session, holder, request_id)
        note = _(
            "You will receive no more emails from %(sender)s.", sender=holder.partner.display_name
        )
        return _show(session, holder, token, note)

    return _for_contact(session, settings, token, act)


@router.post(
    "/p/{token}/unsubscribe-brand",
    response_class=HTMLResponse,
    summary="Unsubscribe from the brand's emails",
)
def unsubscribe_brand(
    _public: PublicRoute,
    session: SessionDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    token: str,
) -> HTMLResponse:
    def act(holder: svc.Holder) -> HTMLResponse:
        svc.leave_brand(session, holder, request_id)
        note = _(
            "You will receive no more emails from any %(brand)s club.", brand=holder.brand.name
        )
        return _show(session, holder, token, note)

    return _for_contact(session, settings, token, act)


@router.post("/p/{token}/erase", response_class=HTMLResponse, summary="Erase one's data")
def erase(
    _public: PublicRoute,
    session: SessionDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    token: str,
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> HTMLResponse:
    def act(holder: svc.Holder) -> HTMLResponse:
        if confirm != "yes":
            note = _("confirm: tick the box to erase your data.")
            return _show(session, holder, token, note, status=422, error=True)
        svc.erase(session, holder, request_id)
        return _page(
            _("Your data is erased"),
            paragraphs=[
                _(
                    "%(sender)s holds no data about you any more.",
                    sender=holder.partner.display_name,
                )
            ],
        )

    return _for_contact(session, settings, token, act)
