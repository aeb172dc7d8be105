"""Unsubscribe links from emails: GET shows a page, POST unsubscribes, /one-click is RFC 8058.

Public: the signed token is the credential, so there is no sign-in and no CSRF token (a forged
POST could only unsubscribe the token's own recipient). GET never changes anything, because mail
scanners fetch links on their own. The pages are rendered with autoescape (a contact's name is
data), send no referrer, are never cached and cannot be framed. A bad or altered token gets a
404 page, never an error.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import HTMLResponse, PlainTextResponse
from jinja2 import DictLoader, Environment, StrictUndefined

from api.deps import SessionDep, SettingsDep
from api.security import PublicRoute
from i18n.catalogues import language_of
from i18n.context import current_locale, speaking
from i18n.translate import N_
from i18n.translate import gettext as _
from services.engagement import unsubscribe as svc
from services.preferences import from_accept_language

router = APIRouter(tags=["unsubscribe"])

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}

_PAGES = Environment(
    loader=DictLoader(
        {
            "page.html": """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>body{font-family:Arial,sans-serif;max-width:36em;margin:3em auto;padding:0 1em;\
color:#1a1a1a;line-height:1.5}button{padding:8px 16px;background:#0b3d91;color:#fff;border:0;\
border-radius:4px}</style></head>
<body><h1>{{ title }}</h1>
{% for p in paragraphs %}<p>{{ p }}</p>
{% endfor %}{% if form %}<form method="post"><button type="submit">{{ button }}</button></form>
{% endif %}</body></html>
"""
        }
    ),
    autoescape=True,
    undefined=StrictUndefined,
)
UNKNOWN = N_("This unsubscribe link is not valid. If you keep receiving mail, reply to it and ask.")


def _page(
    title: str, paragraphs: list[str], *, status: int = 200, form: bool = False
) -> HTMLResponse:
    """In the current language (the member's: see _member_language)."""
    html = _PAGES.get_template("page.html").render(
        lang=language_of(current_locale()),
        title=title,
        paragraphs=paragraphs,
        form=form,
        button=_("Unsubscribe"),
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _not_found(accept_language: str | None) -> HTMLResponse:
    """No member to ask: the browser's language."""
    with speaking(from_accept_language(accept_language)):
        return _page(_("Link not found"), [_(UNKNOWN)], status=404)


def member_language(recipient: svc.Recipient, accept_language: str | None = None) -> str:
    """The member's own language (their contact's), else the club's, else the browser's."""
    contact = recipient.contact.locale if recipient.contact is not None else ""
    return contact or recipient.partner.locale or from_accept_language(accept_language) or "en"


def _masked(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


@router.get(
    "/u/{token}", response_class=HTMLResponse, summary="Show the unsubscribe confirmation page"
)
def unsubscribe_page(
    _public: PublicRoute,
    session: SessionDep,
    settings: SettingsDep,
    token: str,
    accept_language: Annotated[str | None, Header()] = None,
) -> HTMLResponse:
    """Asks for confirmation; changes nothing."""
    recipient = svc.resolve(session, settings, token)
    if recipient is None:
        return _not_found(accept_language)
    sender = recipient.partner.display_name
    with speaking(member_language(recipient, accept_language)):
        if recipient.contact is None:
            return _page(
                _("Unsubscribed"),
                [_("%(sender)s holds no data about you any more.", sender=sender)],
            )
        email = _masked(recipient.contact.email)
        if recipient.contact.name:
            question = _(
                "%(name)s, do you want to stop receiving emails from %(sender)s at %(email)s?",
                name=recipient.contact.name,
                sender=sender,
                email=email,
            )
        else:
            question = _(
                "Do you want to stop receiving emails from %(sender)s at %(email)s?",
                sender=sender,
                email=email,
            )
        return _page(
            _("Unsubscribe from %(sender)s?", sender=sender),
            [question, _("Nothing changes until you press the button.")],
            form=True,
        )


@router.post("/u/{token}", response_class=HTMLResponse, summary="Unsubscribe")
def unsubscribe_confirm(
    _public: PublicRoute,
    session: SessionDep,
    settings: SettingsDep,
    token: str,
    accept_language: Annotated[str | None, Header()] = None,
) -> HTMLResponse:
    recipient = svc.resolve(session, settings, token)
    if recipient is None:
        return _not_found(accept_language)
    language = member_language(recipient, accept_language)
    svc.unsubscribe(session, recipient, "unsubscribe link")
    with speaking(language):
        return _page(
            _("You are unsubscribed"),
            [
                _(
                    "You will receive no more emails from %(sender)s.",
                    sender=recipient.partner.display_name,
                )
            ],
        )


@router.post(
    "/u/{token}/one-click",
    response_class=PlainTextResponse,
    summary="Unsubscribe with one click (RFC 8058)",
)
def unsubscribe_one_click(
    _: PublicRoute, session: SessionDep, settings: SettingsDep, token: str
) -> PlainTextResponse:
    """RFC 8058: the mailbox provider POSTs `List-Unsubscribe=One-Click`; we unsubscribe at once
    and answer 200 with no page (the body is not needed to act: the POST itself is the intent)."""
    recipient = svc.resolve(session, settings, token)
    if recipient is None:
        return PlainTextResponse("not found", status_code=404, headers=HEADERS)
    svc.unsubscribe(session, recipient, "one-click")
    return PlainTextResponse("unsubscribed", headers=HEADERS)
