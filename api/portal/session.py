"""The portal's session: a signed, stateless cookie, and the CSRF token bound to it.

Stateless so no table (and no migration) is needed: the cookie carries the user id, a random
nonce, issued-at and expiry, signed with a key derived from SECRET_KEY for this purpose only
(no other signer of the project produces a MAC that is valid here). Anonymous visitors get a
session without a user, so the sign-in form has a CSRF token too; signing in issues a new
nonce, so a token seen before sign-in is worthless afterwards.

The CSRF token is an HMAC of the session's nonce: a page of another site can neither read it
nor compute it, and it changes with every session.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from core.settings import Settings

COOKIE = "br_session"
ANONYMOUS_TTL = 3600  # long enough to fill in the sign-in form
_PURPOSE = b"brandrelay:portal-session:v1"
_CSRF_PURPOSE = b"brandrelay:portal-csrf:v1"
_MAX_COOKIE = 1024


@dataclass(frozen=True)
class PortalSession:
    user_id: int | None
    nonce: str
    issued_at: int
    expires_at: int


def _key(settings: Settings, purpose: bytes) -> bytes:
    secret = settings.secret_key.get_secret_value().encode()
    return hmac.new(secret, purpose, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _now() -> int:
    return int(datetime.now(UTC).timestamp())


def new_session(
    settings: Settings, user_id: int | None, *, now: int | None = None
) -> PortalSession:
    issued = now if now is not None else _now()
    ttl = settings.portal_session_ttl if user_id is not None else ANONYMOUS_TTL
    return PortalSession(user_id, secrets.token_urlsafe(18), issued, issued + ttl)


def encode(settings: Settings, session: PortalSession) -> str:
    payload = json.dumps(
        {
            "u": session.user_id,
            "n": session.nonce,
            "iat": session.issued_at,
            "exp": session.expires_at,
        },
        separators=(",", ":"),
    ).encode()
    body = _b64(payload)
    sig = hmac.new(_key(settings, _PURPOSE), body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(sig)}"


def decode(settings: Settings, raw: str | None, *, now: int | None = None) -> PortalSession | None:
    """The session, or None when the cookie is missing, tampered with or expired."""
    if not raw or len(raw) > _MAX_COOKIE or raw.count(".") != 1:
        return None
    body, _, sig = raw.partition(".")
    try:
        expected = hmac.new(_key(settings, _PURPOSE), body.encode("ascii"), hashlib.sha256)
        if not hmac.compare_digest(_unb64(sig), expected.digest()):
            return None
        claims = json.loads(_unb64(body))
        user = claims["u"]
        found = PortalSession(
            user_id=None if user is None else int(user),
            nonce=str(claims["n"]),
            issued_at=int(claims["iat"]),
            expires_at=int(claims["exp"]),
        )
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError):
        return None
    if found.expires_at <= (now if now is not None else _now()):
        return None
    return found


def csrf_token(settings: Settings, session: PortalSession) -> str:
    mac = hmac.new(_key(settings, _CSRF_PURPOSE), session.nonce.encode(), hashlib.sha256)
    return _b64(mac.digest())


def csrf_ok(settings: Settings, session: PortalSession | None, given: str | None) -> bool:
    if session is None or not given:
        return False
    return hmac.compare_digest(csrf_token(settings, session), given)
