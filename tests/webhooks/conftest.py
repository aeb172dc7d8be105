"""A real HTTP receiver on 127.0.0.1 and the webhook API with its workflow worker."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.webhooks import WebhookActivities
from api.app import create_app
from core.security import issue_access_token
from core.settings import Settings
from core.temporal import LazyTemporalClient
from mail.transport import make_transport
from models.org import User
from storage.local import LocalBlobStore
from workflows.webhook_endpoint import WebhookEndpointWorkflow


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """Answers `status` (503 while "down"); records every request it saw."""

    url: str = ""
    status: int = 204
    delay: float = 0.0  # seconds before answering
    body: bytes = b"ok"
    seen: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.seen if 200 <= r.status < 300]

    def all(self) -> list[Received]:
        with self.lock:
            return list(self.seen)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            status = state.status
            time.sleep(state.delay)
            with state.lock:
                state.seen.append(Received(dict(self.headers.items()), body, status))
            self.send_response(status)
            self.send_header("content-length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def webhook_settings(settings: Settings, **changes: Any) -> Settings:
    queue = f"test-wh-{uuid.uuid4().hex[:10]}"
    return settings.model_copy(
        update={
            "temporal_task_queue": queue,
            "webhook_allow_http": True,
            "webhook_allow_private_addresses": True,
            **changes,
        }
    )


def bearer(engine: Engine, settings: Settings, email: str) -> dict[str, str]:
    with Session(engine) as session:
        user = session.exec(select(User).where(User.email == email)).one()
    assert user.id is not None
    token = issue_access_token(
        settings.secret_key.get_secret_value(),
        user.id,
        settings.access_token_ttl,
        generation=user.session_generation,
    )
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Stack:
    api: httpx.AsyncClient
    settings: Settings
    engine: Engine
    env: WorkflowEnvironment
    headers: Callable[[str], dict[str, str]]


@contextlib.asynccontextmanager
async def webhook_stack(
    settings: Settings,
    engine: Engine,
    env: WorkflowEnvironment,
    blob_store: LocalBlobStore,
    checkpoint_store: LocalBlobStore,
) -> AsyncIterator[Stack]:
    """The API on `settings` and a worker running the webhook workflow and its activities
    (real database, real HTTP) on the time-skipping server."""
    activities = WebhookActivities(engine, settings, make_transport(settings, engine))
    with ThreadPoolExecutor(4) as pool:
        async with Worker(
            env.client,
            task_queue=settings.temporal_task_queue,
            workflows=[WebhookEndpointWorkflow],
            activities=[
                activities.webhook_due_events,
                activities.deliver_webhook_event,
                activities.notify_webhook_disabled,
            ],
            activity_executor=pool,
        ):
            app = create_app(
                settings,
                engine=engine,
                temporal=LazyTemporalClient(settings, env.client),
                blob_store=blob_store,
                checkpoint_store=checkpoint_store,
            )
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                    yield Stack(c, settings, engine, env, lambda e: bearer(engine, settings, e))
