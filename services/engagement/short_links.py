"""Short tracked links for SMS: `{PUBLIC_BASE_URL}/s/{code}`, a few characters instead of a
long tracked URL (every character of an SMS costs).

The code is base62(delivery id * 16 + link index) followed by an 8-character MAC (48 bits of
HMAC-SHA256 under the tracking secret, its own purpose label): about 15 characters for a
billion deliveries. The URL itself is not in the code: the redirect finds link number `index`
in that delivery's own SMS, composed again (services.sms.delivery.link_of), so a guessed or
tampered code can never send anyone anywhere but to a link Brandrelay itself texted; a wrong
MAC is a 404 before anything is read.
"""

from __future__ import annotations

import hashlib
import hmac

from core.settings import Settings
from core.signing import b64encode
from services.engagement.tracking import trackable

MAX_LINKS = 16  # links of one SMS that get a short code; later ones stay as they are
MAC_CHARS = 8
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_LABEL = b"brandrelay:sms-short-link:v1"
MAX_CODE = 24  # longer codes are refused before any arithmetic


def _b62(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 62)
        out = _ALPHABET[r] + out
        if n == 0:
            return out


def _from_b62(text: str) -> int | None:
    n = 0
    for ch in text:
        i = _ALPHABET.find(ch)
        if i < 0:
            return None
        n = n * 62 + i
    return n


def _mac(settings: Settings, number: str) -> str:
    key = hmac.new(settings.secret_key.get_secret_value().encode(), _LABEL, hashlib.sha256)
    raw = hmac.new(key.digest(), number.encode("ascii"), hashlib.sha256).digest()[:6]
    return b64encode(raw)  # 6 bytes: 8 characters, no padding


def code_for(settings: Settings, delivery_id: int, index: int) -> str:
    if not 0 <= index < MAX_LINKS or delivery_id < 1:
        raise ValueError("delivery id must be positive and the link index below 16")
    number = _b62(delivery_id * MAX_LINKS + index)
    return number + _mac(settings, number)


def short_url(settings: Settings, delivery_id: int, index: int) -> str:
    return f"{settings.public_base_url.rstrip('/')}/s/{code_for(settings, delivery_id, index)}"


def parse(settings: Settings, code: str) -> tuple[int, int] | None:
    """(delivery id, link index) of a code we made, else None (never raises)."""
    if not MAC_CHARS < len(code) <= MAX_CODE:
        return None
    number, given = code[:-MAC_CHARS], code[-MAC_CHARS:]
    value = _from_b62(number)
    if value is None or _b62(value) != number:  # canonical form only (no leading zeros)
        return None
    if not hmac.compare_digest(given, _mac(settings, number)):
        return None
    delivery_id, index = divmod(value, MAX_LINKS)
    return (delivery_id, index) if delivery_id >= 1 else None


class Shortener:
    """The `shorten` callable for content.sms_text.shorten_links: the n-th distinct link of one
    delivery's SMS becomes its short URL (the same link twice gets the same code)."""

    def __init__(self, settings: Settings, delivery_id: int) -> None:
        self.settings = settings
        self.delivery_id = delivery_id
        self.links: list[str] = []

    def __call__(self, url: str) -> str:
        if not trackable(url):
            return url
        if url in self.links:
            return short_url(self.settings, self.delivery_id, self.links.index(url))
        if len(self.links) >= MAX_LINKS:
            return url
        self.links.append(url)
        return short_url(self.settings, self.delivery_id, len(self.links) - 1)


class Collector:
    """A `shorten` callable that only records the links, in the order a Shortener numbers
    them: the redirect composes the SMS again with it to find link number `index`."""

    def __init__(self) -> None:
        self.links: list[str] = []

    def __call__(self, url: str) -> str:
        if trackable(url) and url not in self.links and len(self.links) < MAX_LINKS:
            self.links.append(url)
        return url
