"""Shared by the client and CLI tests: tokens for demo users, the published demo version,
and transports that put the sync client in front of the real app."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.security import issue_access_token
from core.settings import Settings
from models.org import Partner, Region, User
from models.templates import Template, TemplateVersion

MARKETING = "marketing@northwind.example"
EDITOR_AMS = "editor.amsterdam@northwind.example"
GM_AMS = "gm.amsterdam@northwind.example"
GM_BERLIN = "gm.berlin@northwind.example"
CONTOSO_ADMIN = "admin@contoso.example"


def access_token(engine: Engine, settings: Settings, email: str) -> str:
    """The token the sign-in route would issue (without paying argon2)."""
    with Session(engine) as s:
        user = s.exec(select(User).where(User.email == email)).one()
    secret = settings.secret_key.get_secret_value()
    return issue_access_token(
        secret, user.id or 0, settings.access_token_ttl, generation=user.session_generation
    )


def published_version(engine: Engine) -> int:
    with Session(engine) as s:
        return int(
            s.exec(
                select(TemplateVersion.id)
                .join(Template, Template.id == TemplateVersion.template_id)  # type: ignore[arg-type]
                .where(Template.name == "Open day", TemplateVersion.state == "published")
            ).one()
            or 0
        )


def region_id(engine: Engine, name: str) -> int:
    with Session(engine) as s:
        return int(s.exec(select(Region.id).where(Region.name == name)).one() or 0)


def partner_id(engine: Engine, slug: str) -> int:
    with Session(engine) as s:
        return int(s.exec(select(Partner.id).where(Partner.slug == slug)).one() or 0)


class Intercept(httpx.BaseTransport):
    """Hands each request to `answer` first: a response it returns is the answer, None lets
    the request through to the app. Every request is kept."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        answer: Callable[[httpx.Request], httpx.Response | None] = lambda _r: None,
    ) -> None:
        self.inner = inner
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request) or self.inner.handle_request(request)


class LoopTransport(httpx.BaseTransport):
    """For the sync client running in a worker thread (asyncio.to_thread): each request goes
    to the async ASGI client on the test's event loop, where the app and its worker run."""

    def __init__(self, client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self.client = client
        self.loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()

        async def send() -> httpx.Response:
            answer = await self.client.request(
                request.method, str(request.url), content=content, headers=request.headers
            )
            await answer.aread()
            return answer

        answer = asyncio.run_coroutine_threadsafe(send(), self.loop).result(timeout=60)
        headers = [(k, v) for k, v in answer.headers.items() if k.lower() != "content-encoding"]
        return httpx.Response(answer.status_code, headers=headers, content=answer.content)
