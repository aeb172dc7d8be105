"""The GETs the SES feedback webhook makes to SNS: the signing certificate (cached) and the
subscription confirmation.

Each GET re-checks its URL (`mail.sns_urls`), follows no redirect, gives up once it has taken
longer than `timeout` seconds (checked between reads, each of which waits at most `timeout`),
and refuses an answer larger than its limit: it reads one byte past the limit to know, rather
than cutting the answer short. Failures are `SnsError`s naming
the field whose URL failed: 400 when SNS refused the URL (4xx, too large, a redirect), 503 when
it could not be reached (SNS retries a delivery that got a 5xx).

These calls block: callers run them off the event loop (the webhook route is a sync route).
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from typing import IO, Any

from mail.sns import CertFetcher, SnsError
from mail.sns_urls import cert_url_problem, subscribe_url_problem

CERT_MAX_BYTES = 64 * 1024  # SNS's certificates are about 2 KB of PEM
CONFIRM_MAX_BYTES = 64 * 1024  # the ConfirmSubscriptionResponse XML is well under 1 KB
FETCH_TIMEOUT = 5.0  # seconds for the whole GET
CACHE_TTL = 3600.0  # seconds a fetched certificate is reused (SNS names a new one by URL)
CACHE_ENTRIES = 32  # certificate URLs kept; SNS uses one or two per region at a time
_CHUNK = 16 * 1024

Opener = Callable[[str, float], IO[bytes]]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """SNS answers these URLs directly; a redirect would lead off the checked host."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises the 3xx as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirect)


def open_no_redirect(url: str, timeout: float) -> IO[bytes]:
    """urlopen without redirects (and with the environment's proxy settings)."""
    response: IO[bytes] = _OPENER.open(url, timeout=timeout)
    return response


def get_bounded(
    url: str, *, field: str, max_bytes: int, timeout: float, open_url: Opener = open_no_redirect
) -> bytes:
    """The body of a GET on `url`, at most `max_bytes`; SnsError on `field` otherwise."""
    deadline = time.monotonic() + timeout
    try:
        with open_url(url, timeout) as response:
            headers = getattr(response, "headers", None)
            declared = headers.get("Content-Length", "") if headers is not None else ""
            if declared.isdigit() and int(declared) > max_bytes:
                raise SnsError(f"answer is larger than {max_bytes} bytes", field=field)
            parts: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    raise SnsError(f"took longer than {timeout:g} s", field=field, status=503)
                chunk = response.read(min(_CHUNK, max_bytes + 1 - size))
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise SnsError(f"answer is larger than {max_bytes} bytes", field=field)
                parts.append(chunk)
    except urllib.error.HTTPError as err:
        status = 503 if err.code >= 500 else 400
        raise SnsError(f"SNS answered HTTP {err.code}", field=field, status=status) from err
    except (OSError, http.client.HTTPException) as err:  # URLError, timeouts, resets
        raise SnsError(f"could not be fetched: {err}", field=field, status=503) from err
    return b"".join(parts)


def fetch_cert_https(
    url: str,
    *,
    timeout: float = FETCH_TIMEOUT,
    max_bytes: int = CERT_MAX_BYTES,
    open_url: Opener = open_no_redirect,
) -> bytes:
    """The PEM behind a SigningCertURL (uncached; the route goes through `CertificateCache`)."""
    problem = cert_url_problem(url)
    if problem is not None:
        raise SnsError(problem, field="SigningCertURL")
    return get_bounded(
        url, field="SigningCertURL", max_bytes=max_bytes, timeout=timeout, open_url=open_url
    )


def confirm_subscription(
    url: str, *, timeout: float = FETCH_TIMEOUT, open_url: Opener = open_no_redirect
) -> None:
    """SNS waits for a GET on the SubscribeURL before it sends notifications."""
    problem = subscribe_url_problem(url)
    if problem is not None:
        raise SnsError(problem, field="SubscribeURL")
    get_bounded(
        url, field="SubscribeURL", max_bytes=CONFIRM_MAX_BYTES, timeout=timeout, open_url=open_url
    )


class _Flight:
    """One fetch in progress; callers that miss meanwhile wait for its outcome."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.data = b""
        self.error: BaseException | None = None


class CertificateCache:
    """Certificates by URL, so a burst of notifications fetches each certificate once.

    Bounded (least recently used goes first) and with a time to live. Callers that miss while
    a fetch of the same URL runs wait for it and share its outcome, failure included, so an
    unreachable SNS costs one timeout per burst, not one per request. Failures are not kept
    afterwards: only URLs that passed the strict check get here, and the next notification
    tries again. A certificate larger than `max_bytes` is refused whatever fetcher made it."""

    def __init__(
        self,
        *,
        max_entries: int = CACHE_ENTRIES,
        ttl: float = CACHE_TTL,
        max_bytes: int = CERT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.ttl = ttl
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}

    def _fresh(self, url: str) -> bytes | None:
        entry = self._entries.get(url)
        if entry is None:
            return None
        if self._clock() >= entry[0]:
            del self._entries[url]
            return None
        self._entries.move_to_end(url)
        return entry[1]

    def get(self, url: str, fetch: CertFetcher) -> bytes:
        with self._lock:
            found = self._fresh(url)
            if found is not None:
                return found
            flight = self._flights.get(url)
            leading = flight is None
            if flight is None:
                flight = self._flights[url] = _Flight()
        if not leading:
            flight.done.wait()  # as long as the leader's fetch, which has its own timeout
            if flight.error is not None:
                raise flight.error
            return flight.data
        try:
            data = fetch(url)
            if len(data) > self.max_bytes:
                raise SnsError(
                    f"certificate is larger than {self.max_bytes} bytes", field="SigningCertURL"
                )
            with self._lock:
                self._entries[url] = (self._clock() + self.ttl, data)
                self._entries.move_to_end(url)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            flight.data = data
        except BaseException as err:
            flight.error = err
            raise
        finally:
            with self._lock:
                del self._flights[url]
            flight.done.set()
        return data

    def fetcher(self, fetch: CertFetcher) -> CertFetcher:
        """`fetch` behind this cache, in the shape `parse_feedback` takes."""
        return lambda url: self.get(url, fetch)
