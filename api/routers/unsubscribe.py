"""Unsubscribe links from emails: GET shows a page, POST unsubscribes, /one-click is RFC 8058.

Public: the signed token is the credential, so there is no sign-in and no CSRF token (a forged
POST could only unsubscribe the token's own recipient). GET never changes anything, because mail
scanners fetch links on their own. The pages are rendered with autoescape (a contact's name is
data), send no referrer, are never cached and cannot be framed. A bad or altered token gets a
404 page, never an error.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, PlainTextResponse
from jinja2 import DictLoader, Environment, StrictUndefined

from api.deps import SessionDep, SettingsDep
from api.security import PublicRoute
from services.engagement import unsubscribe as svc

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
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>body{font-family:Arial,sans-serif;max-width:36em;margin:3em auto;padding:0 1em;\
color:#1a1a1a;line-height:1.5}button{padding:8px 16px;background:#0b3d91;color:#fff;border:0;\
border-radius:4px}</style></head>
<body><h1>{{ title }}</h1>
{% for p in paragraphs %}<p>{{ p }}</p>
{% endfor %}{% if form %}<form method="post"><button type="submit">Unsubscribe</button></form>
{% endif %}</body></html>
"""
        }
    ),
    autoescape=True,
    undefined=StrictUndefined,
)
UNKNOWN = "This unsubscribe link is not valid. If you keep receiving mail, reply to it and ask."


def _page(
    title: str, paragraphs: list[str], *, status: int = 200, form: bool = False
) -> HTMLResponse:
    html = _PAGES.get_template("page.html").render(title=title, paragraphs=paragraphs, form=form)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _masked(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


@router.get(
    "/u/{token}", response_class=HTMLResponse, summary="Show the unsubscribe confirmation page"
)
def unsubscribe_page(
    _: PublicRoute, session: SessionDep, settings: SettingsDep, token: str
) -> HTMLResponse:
    """Asks for confirmation; changes nothing."""
    recipient = svc.resolve(session, settings, token)
    if recipient is None:
        return _page("Link not found", [UNKNOWN], status=404)
    sender = recipient.partner.display_name
    if recipient.contact is None:
        return _page("Unsubscribed", [f"{sender} holds no data about you any more."])
    who = recipient.contact.name or "Hello"
    return _page(
        f"Unsubscribe from {sender}?",
        [
            f"{who}, do you want to stop receiving emails from {sender} at "
            f"{_masked(recipient.contact.email)}?",
            "Nothing changes until you press the button.",
        ],
        form=True,
    )


@router.post("/u/{token}", response_class=HTMLResponse, summary="Unsubscribe")
def unsubscribe_confirm(
    _: PublicRoute, session: SessionDep, settings: SettingsDep, token: str
) -> HTMLResponse:
    recipient = svc.resolve(session, settings, token)
    if recipient is None:
        return _page("Link not found", [UNKNOWN], status=404)
    svc.unsubscribe(session, recipient, "unsubscribe link")
    return _page(
        "You are unsubscribed",
        [f"You will receive no more emails from {recipient.partner.display_name}."],
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
