"""Addresses where nothing listens, for tests of a service being down.

A default port (7233, 5432, 8000) or a "surely unused" one is not safe: a developer may run a
Temporal dev server or a database there. The OS hands out a free ephemeral port when a socket
binds port 0; once closed, nothing listens on it (the OS hands ports out in turn, so it is
not given to another socket right away).
"""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def nowhere() -> str:
    """A host:port on this machine with nothing listening."""
    return f"127.0.0.1:{free_port()}"
