"""The one signer of the project's tokens and links: HMAC-SHA256 with a key per purpose and a
single canonical text form.

A token is `base64url(payload) "." base64url(MAC)`, unpadded. Verification accepts only that
exact text: appended `=`, other low bits in the last character, `+` or `/` for `-` or `_`, and
whitespace are all refused, because a decoder that tolerates them lets one token be written in
many ways (a cache, a log filter or a list of used links keyed by the text then misses the
copies). MACs are compared in constant time.

Each `Purpose` describes one kind of token. Its key is HMAC-SHA256(SECRET_KEY, label), so a MAC
made for one purpose is worthless for every other. The optional fields exist only to keep the
formats already in the wild byte-for-byte (unsubscribe links in sent mail never expire): a new
kind of token takes the defaults.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_HEX = re.compile(r"[0-9a-f]*")


@dataclass(frozen=True)
class Purpose:
    """What a token is for and how its MAC is made."""

    label: bytes
    # True: the MAC covers the payload's base64url text as sent; False: the payload bytes.
    mac_over_text: bool = True
    # Truncated MACs (unsubscribe links: 16 bytes keep the URL short).
    mac_bytes: int = 32
    # False only for file URLs, which were signed with SECRET_KEY itself and carry their label
    # inside the signed message instead (no other signer MACs that message shape).
    derive_key: bool = True
    # Detached MACs written as lower-case hex (file URLs' `sig` parameter).
    hex_mac: bool = False


ACTION_LINK = Purpose(b"brandrelay:action-link:v1")
# Links in notification emails that sign the partner in (services.signin_links).
SIGNIN_LINK = Purpose(b"brandrelay:signin-link:v1")
PORTAL_SESSION = Purpose(b"brandrelay:portal-session:v1")
PORTAL_CSRF = Purpose(b"brandrelay:portal-csrf:v1")
UNSUBSCRIBE = Purpose(b"brandrelay/unsubscribe/v1", mac_over_text=False, mac_bytes=16)
FILE_URL = Purpose(b"brandrelay.blob-get.v1", derive_key=False, hex_mac=True)
# Tracked links and open pixels (detached MACs: the original URL stays readable in the link).
TRACK_CLICK = Purpose(b"brandrelay:track-click:v1", mac_bytes=16)
TRACK_OPEN = Purpose(b"brandrelay:track-open:v1", mac_bytes=16)
PREFERENCES = Purpose(b"brandrelay:preferences:v1", mac_bytes=16)


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes | None:
    """The bytes of canonical unpadded base64url text, else None (never raises)."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # Re-encoding catches the unused low bits of the last character.
    return data if b64encode(data) == text else None


def is_canonical_b64(text: str) -> bool:
    return b64decode(text) is not None


def _key(secret: str, purpose: Purpose) -> bytes:
    if not purpose.derive_key:
        return secret.encode()
    return hmac.new(secret.encode(), purpose.label, hashlib.sha256).digest()


def _mac(secret: str, purpose: Purpose, message: bytes) -> bytes:
    return hmac.new(_key(secret, purpose), message, hashlib.sha256).digest()[: purpose.mac_bytes]


def sign(secret: str, purpose: Purpose, payload: bytes) -> str:
    """The token for `payload`: base64url(payload) "." base64url(MAC)."""
    body = b64encode(payload)
    signed = body.encode("ascii") if purpose.mac_over_text else payload
    return f"{body}.{b64encode(_mac(secret, purpose, signed))}"


def verify(secret: str, purpose: Purpose, token: str, *, max_len: int) -> bytes | None:
    """The payload of a valid token in its canonical form, else None (never raises)."""
    if len(token) > max_len or token.count(".") != 1:
        return None
    body, _, sig = token.partition(".")
    payload, given = b64decode(body), b64decode(sig)
    if payload is None or given is None:
        return None
    signed = body.encode("ascii") if purpose.mac_over_text else payload
    if not hmac.compare_digest(given, _mac(secret, purpose, signed)):
        return None
    return payload


def mac(secret: str, purpose: Purpose, message: bytes) -> str:
    """A detached MAC of `message` (the message travels separately, e.g. as URL parameters)."""
    raw = _mac(secret, purpose, message)
    return raw.hex() if purpose.hex_mac else b64encode(raw)


def mac_ok(secret: str, purpose: Purpose, message: bytes, given: str) -> bool:
    """Whether `given` is the canonical detached MAC of `message` (never raises)."""
    if purpose.hex_mac:
        if len(given) != 2 * purpose.mac_bytes or not _HEX.fullmatch(given):
            return False
        decoded: bytes | None = bytes.fromhex(given)
    else:
        decoded = b64decode(given)
    return decoded is not None and hmac.compare_digest(decoded, _mac(secret, purpose, message))
