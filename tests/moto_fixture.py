"""A moto S3 server over real HTTP, in-process: exercises what in-memory mocking skips
(request signing, presigned URLs, headers) without Docker or a network."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

MOTO_ACCESS_KEY_ID = "testing"
MOTO_SECRET_ACCESS_KEY = "testing"  # moto accepts any credentials


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """The endpoint URL, "http://127.0.0.1:<port>"; port 0 lets the OS pick a free one, so
    parallel runs do not clash. State is shared for the session: use a fresh bucket per test."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
