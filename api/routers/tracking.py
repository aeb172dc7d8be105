"""Tracked links and the open pixel: public, answer at once, queue the event.

`GET /r/{delivery}/{mac}?u={url}` redirects (302) to exactly `u` when the MAC was made for
that delivery and URL; anything else gets a 404 page and no redirect, so the route is never an
open redirect. `GET /s/{code}` is the short link of an SMS (services.engagement.short_links).
`GET /o/{delivery}/{mac}.gif` returns a transparent GIF that is never cached,
whatever the MAC (a broken image would only show the recipient an error), and records an open
only for a valid one. Neither route touches the database: the event goes to the app's
`EventWriter` (services.engagement.events), which writes in batches.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import EngineDep, SettingsDep
from api.routers.unsubscribe import HEADERS
from api.security import PublicRoute
from models.base import utcnow
from models.delivery import EventKind
from services.engagement import events, short_links, tracking
from services.engagement.events import EventWriter
from services.sms import delivery as sms_delivery

router = APIRouter(tags=["tracking"], include_in_schema=False)

_NOT_FOUND = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Link not found'
    "</title></head><body><h1>Link not found</h1><p>This link is not valid.</p></body></html>"
)
PIXEL_HEADERS = {
    "Cache-Control": "no-store, no-cache, must-revalidate, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _writer(request: Request) -> EventWriter:
    writer: EventWriter = request.app.state.event_writer
    return writer


def _submit(request: Request, delivery_id: int, kind: EventKind, url: str | None) -> None:
    at = utcnow()
    _writer(request).submit(
        events.Event(
            delivery_id=delivery_id,
            kind=kind.value,
            source="tracking",
            key=events.minute_key(kind.value, delivery_id, url, at),
            at=at,
            url=url,
        )
    )


@router.get("/r/{delivery}/{mac}", response_model=None, summary="Follow a tracked link")
def click(
    _: PublicRoute,
    request: Request,
    settings: SettingsDep,
    delivery: str,
    mac: str,
    u: str = "",
) -> Response:
    delivery_id = tracking.delivery_of(delivery)
    if delivery_id is None or not tracking.click_ok(settings, delivery_id, u, mac):
        return HTMLResponse(_NOT_FOUND, status_code=404, headers=HEADERS)
    _submit(request, delivery_id, EventKind.clicked, u)
    return RedirectResponse(u, status_code=302, headers={"Cache-Control": "no-store"})


@router.get("/s/{code}", response_model=None, summary="Follow a short link from an SMS")
def short_link(
    _: PublicRoute, request: Request, settings: SettingsDep, engine: EngineDep, code: str
) -> Response:
    """An SMS's short tracked link (services.engagement.short_links): the code names a
    delivery and its link number; the URL is that link of the delivery's own SMS, composed
    again, so no code leads anywhere Brandrelay did not text. This one reads the database."""
    parsed = short_links.parse(settings, code)
    target = sms_delivery.link_of(engine, settings, *parsed) if parsed else None
    if parsed is None or target is None:
        return HTMLResponse(_NOT_FOUND, status_code=404, headers=HEADERS)
    if target.record:
        _submit(request, parsed[0], EventKind.clicked, target.url)
    return RedirectResponse(target.url, status_code=302, headers={"Cache-Control": "no-store"})


@router.get("/o/{delivery}/{mac}.gif", response_model=None, summary="Record an email open")
def open_pixel(
    _: PublicRoute, request: Request, settings: SettingsDep, delivery: str, mac: str
) -> Response:
    delivery_id = tracking.delivery_of(delivery)
    if delivery_id is not None and tracking.open_ok(settings, delivery_id, mac):
        _submit(request, delivery_id, EventKind.opened, None)
    return Response(tracking.PIXEL_GIF, media_type="image/gif", headers=PIXEL_HEADERS)
