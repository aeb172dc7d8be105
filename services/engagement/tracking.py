"""Open and click tracking: signed redirect links and an open pixel in a delivery's HTML.

A tracked link is `{PUBLIC_BASE_URL}/r/{delivery id}/{mac}?u={original URL}`: the original stays
readable (a recipient hovering sees where it goes), and the MAC (core.signing, TRACK_CLICK,
128 bits) covers the delivery id and the exact URL, so a changed URL, delivery id or MAC is
refused: the route is never an open redirect. Only http(s) links are tracked or redirected to;
mailto:, tel:, javascript: and anything else stay as they are, and so do our own unsubscribe
and preference-centre links (`/u/`, `/p/` under PUBLIC_BASE_URL).

The open pixel is `{PUBLIC_BASE_URL}/o/{delivery id}/{mac}.gif`, a 1x1 transparent GIF.

Rewriting works on the rendered, autoescaped HTML: each href value is unescaped, replaced by
its tracked URL and escaped again, so no partner text ever becomes markup. The text part keeps
the plain original URLs: its readers see where a link goes, and clicks there are not counted.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from sqlmodel import Session

from core import signing
from core.errors import Forbidden
from core.policy import Permission, Principal, Target, allows
from core.settings import Settings
from models.org import Brand
from services import audit

MAX_URL = 2000  # longer links are left untracked (and the event table keeps 2000 characters)
_HREF = re.compile(r"""(<a\b[^>]*?\shref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)
_DELIVERY = re.compile(r"^[1-9][0-9]{0,18}$")
# A transparent 1x1 GIF (42 bytes).
PIXEL_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c000000000100010000020144003b"
)


def trackable(url: str) -> bool:
    """Only absolute http(s) URLs with a host are tracked or redirected to."""
    if len(url) > MAX_URL or any(c in url for c in "\r\n\t\x00 "):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _secret(settings: Settings) -> str:
    return settings.secret_key.get_secret_value()


def _click_message(delivery_id: int, url: str) -> bytes:
    return f"{delivery_id}\n{url}".encode()


def click_url(settings: Settings, delivery_id: int, url: str) -> str:
    mac = signing.mac(_secret(settings), signing.TRACK_CLICK, _click_message(delivery_id, url))
    base = settings.public_base_url.rstrip("/")
    return f"{base}/r/{delivery_id}/{mac}?u={quote(url, safe=':/@!$(),;~')}"


def open_url(settings: Settings, delivery_id: int) -> str:
    mac = signing.mac(_secret(settings), signing.TRACK_OPEN, str(delivery_id).encode())
    return f"{settings.public_base_url.rstrip('/')}/o/{delivery_id}/{mac}.gif"


def delivery_of(raw: str) -> int | None:
    return int(raw) if _DELIVERY.fullmatch(raw) else None


def click_ok(settings: Settings, delivery_id: int, url: str, mac: str) -> bool:
    """Whether the link was made by us for exactly this delivery and URL."""
    return trackable(url) and signing.mac_ok(
        _secret(settings), signing.TRACK_CLICK, _click_message(delivery_id, url), mac
    )


def open_ok(settings: Settings, delivery_id: int, mac: str) -> bool:
    return signing.mac_ok(_secret(settings), signing.TRACK_OPEN, str(delivery_id).encode(), mac)


@dataclass(frozen=True)
class Tracking:
    """What to do to one delivery's HTML (None from `for_brand` when the brand tracks nothing)."""

    settings: Settings
    delivery_id: int
    clicks: bool
    opens: bool

    def _own(self, url: str) -> bool:
        base = self.settings.public_base_url.rstrip("/")
        return url.startswith((f"{base}/u/", f"{base}/p/", f"{base}/r/"))

    def apply(self, page: str) -> str:
        if self.clicks:
            page = _HREF.sub(self._link, page)
        if self.opens:
            pixel = (
                f'<img src="{html.escape(open_url(self.settings, self.delivery_id))}" '
                'width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">'
            )
            closing = list(_BODY_CLOSE.finditer(page))
            if closing:
                at = closing[-1].start()
                page = page[:at] + pixel + page[at:]
            else:
                page += pixel
        return page

    def _link(self, match: re.Match[str]) -> str:
        url = html.unescape(match.group(3)).strip()
        if not trackable(url) or self._own(url):
            return match.group(0)
        tracked = html.escape(click_url(self.settings, self.delivery_id, url), quote=True)
        return f"{match.group(1)}{match.group(2)}{tracked}{match.group(2)}"


def for_brand(settings: Settings, brand: Brand, delivery_id: int | None) -> Tracking | None:
    """The brand's switches for a real delivery (a row id); test sends and notifications have
    none and are never tracked."""
    if not delivery_id or not (brand.click_tracking or brand.open_tracking):
        return None
    return Tracking(settings, delivery_id, brand.click_tracking, brand.open_tracking)


def brand_settings(brand: Brand) -> dict[str, bool]:
    return {"open_tracking": brand.open_tracking, "click_tracking": brand.click_tracking}


def update_brand_settings(
    session: Session,
    principal: Principal,
    request_id: str,
    *,
    open_tracking: bool | None,
    click_tracking: bool | None,
) -> Brand:
    """Turn the brand's switches on or off (brand admins at brand scope); audited. Only
    messages composed afterwards change: mail already sent keeps its links."""
    if not allows(principal, Permission.tracking_manage, Target(principal.brand_id)):
        raise Forbidden("Only brand admins switch tracking on or off")
    brand = session.get(Brand, principal.brand_id)
    assert brand is not None
    before = brand_settings(brand)
    if open_tracking is not None:
        brand.open_tracking = open_tracking
    if click_tracking is not None:
        brand.click_tracking = click_tracking
    after = brand_settings(brand)
    if after == before:
        return brand
    session.add(brand)
    audit.append_in(
        session,
        audit.NewEvent(
            brand_id=principal.brand_id,
            actor=str(principal.user_id),
            action="brand.tracking",
            entity_type="brand",
            entity_id=str(principal.brand_id),
            event_key=f"api:{request_id}:brand.tracking:{principal.brand_id}",
            before=before,
            after=after,
            request_id=request_id,
        ),
    )
    session.flush()
    return brand
