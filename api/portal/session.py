"""The portal's session: a signed, stateless cookie, and the CSRF token bound to it.

Stateless so no table is needed: the cookie carries the user id, the user's session
generation, a random nonce, issued-at and expiry, signed by core.signing (purpose
PORTAL_SESSION, canonical form only). The guard compares the generation with the user's row, so
signing out or changing the password (both raise it) ends every cookie issued before; cookies
from before the generation existed carry none and count as generation 0. Anonymous visitors get
a session without a user, so the sign-in form has a CSRF token too; signing in issues a new
nonce, so a token seen before sign-in is worthless afterwards.

The CSRF token is an HMAC of the session's nonce: a page of another site can neither read it
nor compute it, and it changes with every session.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from core import signing
from core.settings import Settings

COOKIE = "br_session"
ANONYMOUS_TTL = 3600  # long enough to fill in the sign-in form
_MAX_COOKIE = 1024


@dataclass(frozen=True)
class PortalSession:
    user_id: int | None
    nonce: str
    issued_at: int
    expires_at: int
    generation: int = 0


def _secret(settings: Settings) -> str:
    return settings.secret_key.get_secret_value()


def _now() -> int:
    return int(datetime.now(UTC).timestamp())


def new_session(
    settings: Settings, user_id: int | None, *, generation: int = 0, now: int | None = None
) -> PortalSession:
    """`generation` is the user's session generation at sign-in (models.org.User)."""
    issued = now if now is not None else _now()
    ttl = settings.portal_session_ttl if user_id is not None else ANONYMOUS_TTL
    return PortalSession(user_id, secrets.token_urlsafe(18), issued, issued + ttl, generation)


def encode(settings: Settings, session: PortalSession) -> str:
    claims: dict[str, object] = {
        "u": session.user_id,
        "n": session.nonce,
        "iat": session.issued_at,
        "exp": session.expires_at,
    }
    if session.user_id is not None:
        claims["g"] = session.generation
    payload = json.dumps(claims, separators=(",", ":")).encode()
    return signing.sign(_secret(settings), signing.PORTAL_SESSION, payload)


def decode(settings: Settings, raw: str | None, *, now: int | None = None) -> PortalSession | None:
    """The session, or None when the cookie is missing, tampered with, not in its canonical
    form or expired."""
    if not raw:
        return None
    payload = signing.verify(_secret(settings), signing.PORTAL_SESSION, raw, max_len=_MAX_COOKIE)
    if payload is None:
        return None
    try:
        claims = json.loads(payload)
        user = claims["u"]
        found = PortalSession(
            user_id=None if user is None else int(user),
            nonce=str(claims["n"]),
            issued_at=int(claims["iat"]),
            expires_at=int(claims["exp"]),
            generation=int(claims.get("g", 0)),
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if found.expires_at <= (now if now is not None else _now()):
        return None
    return found


def csrf_token(settings: Settings, session: PortalSession) -> str:
    return signing.mac(_secret(settings), signing.PORTAL_CSRF, session.nonce.encode())


def csrf_ok(settings: Settings, session: PortalSession | None, given: str | None) -> bool:
    """Any text may arrive here (a form field, a header): never raises."""
    if session is None or not given:
        return False
    return signing.mac_ok(_secret(settings), signing.PORTAL_CSRF, session.nonce.encode(), given)
