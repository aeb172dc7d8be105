"""Secrets: password hashing (argon2), bearer access tokens (JWT) and API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.signing import is_canonical_b64

_hasher = PasswordHasher()
# Verified against when the account does not exist, so timing does not reveal that.
_DUMMY_HASH = _hasher.hash("brandrelay-dummy-password-for-unknown-accounts")

API_TOKEN_PREFIX = "brt_"  # noqa: S105 - a public marker
JWT_ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not a hash exists."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    generation: int  # the user's session generation when the token was issued


def issue_access_token(secret: str, user_id: int, ttl_seconds: int, *, generation: int) -> str:
    """`generation` is the user's session generation (models.org.User): raising it ends the
    token before its expiry."""
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "gen": generation,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_seconds),
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def read_access_token(secret: str, token: str) -> AccessClaims | None:
    """The claims, or None for a token that is invalid, expired or not in its canonical form.

    PyJWT pads what it decodes, so padding or other low bits in the last character would keep
    a token valid under another text; each part must be canonical base64url. Tokens issued
    before the generation claim existed count as generation 0 (they expire within
    ACCESS_TOKEN_TTL anyway).
    """
    parts = token.split(".")
    if len(parts) != 3 or not all(is_canonical_b64(part) for part in parts):
        return None
    try:
        claims = jwt.decode(token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["exp"]})
        generation = claims.get("gen", 0)
        if not isinstance(generation, int) or isinstance(generation, bool):
            return None
        return AccessClaims(user_id=int(claims["sub"]), generation=generation)
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        return None


@dataclass(frozen=True)
class NewApiToken:
    secret: str  # shown once to the creator
    prefix: str  # stored, used to find the row
    digest: str  # stored


def new_api_token() -> NewApiToken:
    prefix = secrets.token_hex(6)
    secret = f"{API_TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiToken(secret=secret, prefix=prefix, digest=token_digest(secret))


def token_digest(secret: str) -> str:
    """SHA-256 suffices: API tokens carry 256 random bits, unlike passwords."""
    return hashlib.sha256(secret.encode()).hexdigest()


def api_token_prefix(secret: str) -> str | None:
    if not secret.startswith(API_TOKEN_PREFIX):
        return None
    prefix, sep, _ = secret[len(API_TOKEN_PREFIX) :].partition("_")
    return prefix if sep and prefix else None


def digests_match(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)
