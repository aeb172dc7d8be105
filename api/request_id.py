"""Every request carries an id (the caller's X-Request-ID, else a new one) into the logs and
the audit trail, and every answer carries it back.

Plain ASGI rather than Starlette's BaseHTTPMiddleware: that one runs each request in a task
group with streams between the layers, which cost more than the rest of a small request and
wrapped errors raised while a body is read into exception groups.
"""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
MAX_LENGTH = 100


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", ()) if k.lower() == HEADER), b"")
        rid = given.decode("latin-1")[:MAX_LENGTH] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, rid.encode("latin-1"))]}
            await send(message)

        await self.app(scope, receive, send_with_id)
