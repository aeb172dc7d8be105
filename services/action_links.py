"""One-click links in notification emails: signed, expiring tokens naming who may do what.

The token is the credential (an email client cannot sign in), so it says exactly one thing:
this user may ask for this decision on this partner campaign until `expires`. It grants no
power of its own: the POST builds the user's current principal and the workflow's validators
still check the roles, the stage and four eyes, so a link of someone who lost the role, or for
a campaign decided meanwhile, does nothing.

Signed by core.signing (purpose ACTION_LINK): base64url(JSON claims) "." base64url(MAC), in
its canonical form only. A field is added in `ActionToken` and its two claim mappings; tokens
already sent lack it, so the reader must give it a default.

Sign-in links (services.signin_links) are the same claims under a purpose of their own
(SIGNIN_LINK) with the action "sign_in" and a random nonce, so a token of one kind is worthless
as the other and every sign-in link is distinct (its text is the key of the used-links ledger).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core import signing
from core.settings import Settings

ACTIONS = frozenset({"approve", "request_changes"})
SIGN_IN = "sign_in"
DEFAULT_TTL = timedelta(days=7)
_MAX_TOKEN = 512  # far above a real token; refuses oversized input before any work


@dataclass(frozen=True)
class ActionToken:
    partner_campaign_id: int
    user_id: int
    action: str
    expires: datetime
    # The submission the email was about: a decision through the link is refused once the
    # partner has submitted again (the GM would approve content they never saw). None in
    # links sent before links named it.
    revision: int | None = None
    # Sign-in links only: makes each link's text unique (single use is recorded by its text).
    nonce: str | None = None

    def claims(self) -> dict[str, Any]:
        """The signed JSON object; its key order is part of the token's bytes."""
        claims: dict[str, Any] = {
            "pc": self.partner_campaign_id,
            "u": self.user_id,
            "a": self.action,
            "exp": int(self.expires.timestamp()),
        }
        if self.revision is not None:
            claims["r"] = self.revision
        if self.nonce is not None:
            claims["n"] = self.nonce
        return claims

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> ActionToken:
        revision = claims.get("r")
        nonce = claims.get("n")
        return cls(
            partner_campaign_id=int(claims["pc"]),
            user_id=int(claims["u"]),
            action=str(claims["a"]),
            expires=datetime.fromtimestamp(int(claims["exp"]), UTC),
            revision=None if revision is None else int(revision),
            nonce=None if nonce is None else str(nonce),
        )

    def names_current_submission(self, current: int) -> bool:
        """Whether the link is about the content waiting now. A link from before links named
        their submission is trusted only while there has been just one submission."""
        if self.revision is None:
            return current <= 1
        return self.revision == current


def make_token(
    settings: Settings,
    pc_id: int,
    user_id: int,
    action: str,
    ttl: timedelta = DEFAULT_TTL,
    *,
    revision: int | None = None,
    now: datetime | None = None,
) -> str:
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {sorted(ACTIONS)}")
    token = ActionToken(pc_id, user_id, action, expiry(ttl, now), revision)
    return encode(settings, signing.ACTION_LINK, token)


def expiry(ttl: timedelta, now: datetime | None = None) -> datetime:
    """Whole seconds: the claim carries epoch seconds."""
    return datetime.fromtimestamp(int(((now or datetime.now(UTC)) + ttl).timestamp()), UTC)


def encode(settings: Settings, purpose: signing.Purpose, token: ActionToken) -> str:
    payload = json.dumps(token.claims(), separators=(",", ":")).encode()
    return signing.sign(settings.secret_key.get_secret_value(), purpose, payload)


def decode(settings: Settings, purpose: signing.Purpose, raw: str) -> ActionToken | None:
    """The claims of a canonical, untampered token of `purpose`, expired or not; else None."""
    payload = signing.verify(
        settings.secret_key.get_secret_value(), purpose, raw, max_len=_MAX_TOKEN
    )
    if payload is None:
        return None
    try:
        return ActionToken.from_claims(json.loads(payload))
    except (ValueError, TypeError, KeyError, OverflowError, OSError):
        return None


def make_link(
    settings: Settings,
    pc_id: int,
    user_id: int,
    action: str,
    ttl: timedelta = DEFAULT_TTL,
    *,
    revision: int | None = None,
    now: datetime | None = None,
) -> str:
    """The absolute URL of the confirmation page (GET shows, only POST acts)."""
    token = make_token(settings, pc_id, user_id, action, ttl, revision=revision, now=now)
    return f"{settings.public_base_url.rstrip('/')}/a/{token}"


def read_token(
    settings: Settings, token: str, *, now: datetime | None = None
) -> ActionToken | None:
    """The token's claims, or None when it is malformed, tampered with or expired."""
    parsed = decode(settings, signing.ACTION_LINK, token)
    if parsed is None:
        return None
    if parsed.action not in ACTIONS or parsed.expires <= (now or datetime.now(UTC)):
        return None
    return parsed
