"""Request bodies are refused above their limit before they are read.

One global limit for every body (JSON, forms), and larger allowances for the few routes that
take files or long template sources. A declared Content-Length over the limit is answered 413
at once; a body without one (chunked) is counted while it streams and stopped at the limit.
The large allowances are only for callers who proved who they are (a bearer token, or on the
portal's import page a signed-in session cookie): an unauthenticated upload is answered 401
before its first byte is read, so nobody can make the API swallow 200 MB without credentials.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from sqlmodel import Session
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.portal import session as portal_cookies
from core.settings import Settings
from models.org import User
from services.accounts import principal_from_bearer

MIB = 1024 * 1024


class BodyTooLarge(HTTPException):
    """Raised while a body streams past its limit; FastAPI lets HTTPExceptions through its
    body parsing, so the caller gets this 413 rather than "error parsing the body"."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body: the request body is larger than {limit} bytes")


@dataclass(frozen=True)
class Allowance:
    """A route that may take a larger body, for signed-in callers only."""

    methods: frozenset[str]
    path: re.Pattern[str]
    limit: int

    def matches(self, method: str, path: str) -> bool:
        return method in self.methods and self.path.fullmatch(path) is not None


def allowances(settings: Settings) -> list[Allowance]:
    """Uploads and imports carry their own size settings (plus room for the multipart
    envelope); template sources are long text, escaped once more in JSON."""
    envelope = MIB
    post = frozenset({"POST"})
    return [
        Allowance(
            post, re.compile(r"/api/v1/assets(/\d+/versions)?"), settings.asset_max_bytes + envelope
        ),
        Allowance(
            post,
            re.compile(r"/api/v1/partners/\d+/contacts/import|/contacts/import"),
            settings.contact_import_max_bytes + envelope,
        ),
        Allowance(
            post,
            re.compile(r"/api/v1/(campaign-sheets|partner-value-sheets)"),
            settings.campaign_sheet_max_bytes + envelope,
        ),
        Allowance(
            frozenset({"POST", "PATCH"}),
            re.compile(r"/api/v1/(templates(/\d+/versions)?|versions/\d+)"),
            settings.max_template_body_bytes,
        ),
    ]


Authenticate = Callable[[Scope], Awaitable[bool]]


def bearer_authenticator(settings: Settings) -> Authenticate:
    """Whether the request carries a bearer token, or a portal session cookie, that is valid
    now (the route checks its permission and CSRF token itself later; this only keeps
    strangers from sending large bodies)."""

    def check(engine: Any, token: str) -> bool:
        with Session(engine) as session:
            return (
                principal_from_bearer(session, settings.secret_key.get_secret_value(), token)
                is not None
            )

    def check_cookie(engine: Any, found: portal_cookies.PortalSession) -> bool:
        with Session(engine) as session:
            user = session.get(User, found.user_id)
            return (
                user is not None and user.is_active and user.session_generation == found.generation
            )

    async def authenticate(scope: Scope) -> bool:
        engine = scope["app"].state.engine
        header = _header(scope, b"authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return await asyncio.to_thread(check, engine, token.strip())
        if scope["path"].startswith("/api/"):  # the API's routes take bearer tokens only
            return False
        jar = cookie_parser(_header(scope, b"cookie") or "")
        found = portal_cookies.decode(settings, jar.get(portal_cookies.COOKIE))
        if found is None or found.user_id is None:
            return False
        return await asyncio.to_thread(check_cookie, engine, found)

    return authenticate


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        default: int,
        allowances: Sequence[Allowance],
        authenticate: Authenticate,
    ) -> None:
        self.app = app
        self.default = default
        self.allowances = list(allowances)
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        allowance = next((a for a in self.allowances if a.matches(method, path)), None)
        limit = allowance.limit if allowance else self.default
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _problem(send, 400, "Bad request", "Content-Length: must be a number")
                return
            if int(declared) > limit:
                await _problem(send, 413, "Payload too large", BodyTooLarge(limit).detail)
                return
        if allowance is not None and limit > self.default and not await self.authenticate(scope):
            await _problem(send, 401, "Unauthorized", "Sign in before sending a body this large")
            return
        await self.app(scope, _counting(receive, limit), send)


def _counting(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return counted


async def _problem(send: Send, status: int, title: str, detail: str) -> None:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    headers = [(b"content-type", b"application/problem+json"), (b"connection", b"close")]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})
