"""A local SES v2 endpoint for measuring and testing sends: SendEmail and GetAccount over real
HTTP, so the product's SesTransport (boto3, its connection pool, error classification) is
exercised as against AWS.

It answers every call after `delay` seconds, any number at once (a thread per connection).
It can also behave like a busy provider: `max_rate` refuses calls over the account's rate
(a token bucket a second deep, as SES's "Maximum sending rate exceeded", 429
TooManyRequestsException), `throttle_share` refuses that share of the remaining calls as
throttled whatever the rate, `unavailable_share` answers that share with 503
ServiceUnavailable. Refused calls use no rate. GetAccount reports `max_rate` as the quota
(or fails like an endpoint without GetAccount when `quota` is False).

    python -m bench.ses_endpoint --port 8025 --delay 0.04

In tests: `with running(EndpointConfig(...)) as endpoint: ... endpoint.url`.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


@dataclass
class EndpointConfig:
    delay: float = 0.04
    max_rate: float | None = None
    throttle_share: float = 0.0
    unavailable_share: float = 0.0
    quota: bool = True
    seed: int = 17


@dataclass
class Tally:
    """What the endpoint answered; `message_ids` of accepted messages, in order."""

    accepted: int = 0
    over_rate: int = 0
    throttled: int = 0
    unavailable: int = 0
    message_ids: list[str] = field(default_factory=list)
    first_at: float | None = None
    last_at: float | None = None


class Endpoint:
    def __init__(self, config: EndpointConfig) -> None:
        self.config = config
        self.tally = Tally()
        self._lock = threading.Lock()
        self._random = random.Random(config.seed)
        self._tokens = config.max_rate or 0.0
        self._refilled = time.monotonic()
        self.url = ""

    def decide(self) -> str:
        """accept | over_rate | throttled | unavailable, for one SendEmail call."""
        with self._lock:
            roll = self._random.random()
            if roll < self.config.unavailable_share:
                self.tally.unavailable += 1
                return "unavailable"
            if roll < self.config.unavailable_share + self.config.throttle_share:
                self.tally.throttled += 1
                return "throttled"
            rate = self.config.max_rate
            if rate is not None:
                now = time.monotonic()
                self._tokens = min(rate, self._tokens + (now - self._refilled) * rate)
                self._refilled = now
                if self._tokens < 1:
                    self.tally.over_rate += 1
                    return "over_rate"
                self._tokens -= 1
            return "accept"

    def accepted(self, message_id: str) -> None:
        with self._lock:
            now = time.monotonic()
            self.tally.accepted += 1
            self.tally.message_ids.append(message_id)
            self.tally.first_at = self.tally.first_at or now
            self.tally.last_at = now


def _handler(endpoint: Endpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: boto3 pools its connections

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _answer(self, status: int, body: dict[str, Any], error: str | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if error:
                self.send_header("x-amzn-ErrorType", error)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.startswith("/v2/email/account") and endpoint.config.quota:
                rate = endpoint.config.max_rate or 1000.0
                quota = {"Max24HourSend": 1e9, "MaxSendRate": rate, "SentLast24Hours": 0}
                self._answer(200, {"SendQuota": quota, "ProductionAccessEnabled": True})
            else:
                self._answer(404, {"message": "Unknown operation"}, "NotFoundException")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if not self.path.startswith("/v2/email/outbound-emails"):
                self._answer(404, {"message": "Unknown operation"}, "NotFoundException")
                return
            time.sleep(endpoint.config.delay)
            verdict = endpoint.decide()
            if verdict == "unavailable":
                self._answer(503, {"message": "Service unavailable"}, "ServiceUnavailable")
            elif verdict in ("throttled", "over_rate"):
                body = {"message": "Maximum sending rate exceeded."}
                self._answer(429, body, "TooManyRequestsException")
            else:
                data = base64.b64decode(json.loads(raw)["Content"]["Raw"]["Data"])
                found = _MESSAGE_ID.search(data)
                mid = found.group(1).decode() if found else ""
                endpoint.accepted(mid)
                self._answer(200, {"MessageId": f"ses-{endpoint.tally.accepted}"})

    return Handler


@contextmanager
def running(config: EndpointConfig, port: int = 0) -> Iterator[Endpoint]:
    """The endpoint on 127.0.0.1 in background threads, for the length of the block."""
    endpoint = Endpoint(config)
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(endpoint))
    server.daemon_threads = True
    server.request_queue_size = 256
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--delay", type=float, default=0.04)
    parser.add_argument("--max-rate", type=float, default=None)
    parser.add_argument("--throttle-share", type=float, default=0.0)
    parser.add_argument("--unavailable-share", type=float, default=0.0)
    args = parser.parse_args()
    config = EndpointConfig(
        delay=args.delay,
        max_rate=args.max_rate,
        throttle_share=args.throttle_share,
        unavailable_share=args.unavailable_share,
    )
    with running(config, args.port) as endpoint:
        print(f"SES v2 endpoint on {endpoint.url}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
