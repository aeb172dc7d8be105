"""One-click links in notification emails: signed, expiring tokens naming who may do what.

The token is the credential (an email client cannot sign in), so it says exactly one thing:
this user may ask for this decision on this partner campaign until `expires`. It grants no
power of its own: the POST builds the user's current principal and the workflow's validators
still check the roles, the stage and four eyes, so a link of someone who lost the role, or for
a campaign decided meanwhile, does nothing.

Format: base64url(JSON payload) "." base64url(HMAC-SHA256). The key is derived from
SECRET_KEY with a purpose label, so no other signer of the project (access tokens, file URLs)
produces a MAC that is valid here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.settings import Settings

ACTIONS = frozenset({"approve", "request_changes"})
DEFAULT_TTL = timedelta(days=7)
_PURPOSE = b"brandrelay:action-link:v1"
_MAX_TOKEN = 512  # far above a real token; refuses oversized input before any work


@dataclass(frozen=True)
class ActionToken:
    partner_campaign_id: int
    user_id: int
    action: str
    expires: datetime


def _key(settings: Settings) -> bytes:
    secret = settings.secret_key.get_secret_value().encode()
    return hmac.new(secret, _PURPOSE, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(
    settings: Settings,
    pc_id: int,
    user_id: int,
    action: str,
    ttl: timedelta = DEFAULT_TTL,
    *,
    now: datetime | None = None,
) -> str:
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {sorted(ACTIONS)}")
    expires = int(((now or datetime.now(UTC)) + ttl).timestamp())
    payload = json.dumps(
        {"pc": pc_id, "u": user_id, "a": action, "exp": expires}, separators=(",", ":")
    ).encode()
    body = _b64(payload)
    sig = hmac.new(_key(settings), body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(sig)}"


def make_link(
    settings: Settings,
    pc_id: int,
    user_id: int,
    action: str,
    ttl: timedelta = DEFAULT_TTL,
    *,
    now: datetime | None = None,
) -> str:
    """The absolute URL of the confirmation page (GET shows, only POST acts)."""
    token = make_token(settings, pc_id, user_id, action, ttl, now=now)
    return f"{settings.public_base_url.rstrip('/')}/a/{token}"


def read_token(
    settings: Settings, token: str, *, now: datetime | None = None
) -> ActionToken | None:
    """The token's claims, or None when it is malformed, tampered with or expired."""
    if len(token) > _MAX_TOKEN or token.count(".") != 1:
        return None
    body, _, sig = token.partition(".")
    try:
        given = _unb64(sig)
        expected = hmac.new(_key(settings), body.encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(given, expected):
            return None
        claims = json.loads(_unb64(body))
        parsed = ActionToken(
            partner_campaign_id=int(claims["pc"]),
            user_id=int(claims["u"]),
            action=str(claims["a"]),
            expires=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError):
        return None
    if parsed.action not in ACTIONS or parsed.expires <= (now or datetime.now(UTC)):
        return None
    return parsed
