"""The print vendor simulator as a subprocess for the session (as `make up` runs it), a
callback receiver, and the simulator's faults reset after each test."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from core.settings import PROJECT_ROOT, Settings

SIM_STEP_SECONDS = "0.3"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def simulator_url(settings: Settings) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "test",
        "PRINT_VENDOR_SECRET": settings.print_vendor_secret.get_secret_value(),
        "PRINT_SIM_STEP_SECONDS": SIM_STEP_SECONDS,
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "printing.simulator:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=PROJECT_ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{url}/v1/products", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if proc.poll() is not None:
                    pytest.fail("the print vendor simulator did not start")
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def simulator(simulator_url: str) -> Iterator[str]:
    """The simulator's URL, its faults switched off again after the test."""
    yield simulator_url
    httpx.put(f"{simulator_url}/v1/_sim/faults", json={}, timeout=5).raise_for_status()


def set_faults(url: str, **faults: object) -> None:
    httpx.put(f"{url}/v1/_sim/faults", json=faults, timeout=5).raise_for_status()


def vendor_orders(url: str, reference: str) -> list[dict[str, object]]:
    orders = httpx.get(f"{url}/v1/orders", timeout=5).json()["orders"]
    return [o for o in orders if o["reference"] == reference]


@dataclass
class Received:
    """Callbacks as they arrived: (headers, body)."""

    url: str
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200

    def wait_for(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.posts) >= count, f"{len(self.posts)} callbacks, expected {count}"


@pytest.fixture
def receiver() -> Iterator[Received]:
    """A plain HTTP server recording what the simulator POSTs."""
    received = Received(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(received.status)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    received.url = f"http://127.0.0.1:{server.server_address[1]}/callbacks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received
    server.shutdown()
    server.server_close()
