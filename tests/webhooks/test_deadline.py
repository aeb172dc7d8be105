"""One attempt ends after WEBHOOK_TIMEOUT_SECONDS in all, also against a receiver that keeps
every single read within the timeout by trickling its answer."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from core.settings import Settings
from models.webhooks import WebhookEndpoint, WebhookEvent
from services.webhooks import delivery
from services.webhooks.signing import new_secret
from tests.webhooks.conftest import webhook_settings

TRICKLE = 40  # bytes, one per STEP: 4 s in all, far beyond the attempt's 0.5 s
STEP = 0.1


@pytest.fixture
def trickler() -> Iterator[str]:
    """Answers 200, but its headers come one byte every STEP seconds."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\n")
                    for byte in b"x-slow: " + b"a" * TRICKLE:
                        conn.sendall(bytes([byte]))
                        time.sleep(STEP)
                    conn.sendall(b"\r\ncontent-length: 2\r\n\r\nok")
                except OSError:
                    pass  # the client gave up

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    server.close()


def test_a_receiver_that_trickles_its_answer_is_cut_off_as_a_timeout(
    settings: Settings, trickler: str
) -> None:
    local = webhook_settings(settings, webhook_timeout_seconds=0.5)
    endpoint = WebhookEndpoint(brand_id=1, url=trickler, secret=new_secret())
    event = WebhookEvent(
        endpoint_id=1, brand_id=1, message_id="msg_t", source_key="k", event_type="t", subject="s"
    )
    answer = delivery.post(local, endpoint, event)
    assert not answer.ok and answer.status_code is None
    assert (answer.error or "").startswith("ReadTimeout")
