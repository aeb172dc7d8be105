"""What every generated operation goes through: authentication, retries on 503 and 429
(honouring Retry-After, bounded), Idempotency-Key per logical call, problem+json errors as
ApiError. Hand-written; api.py (generated) adds one method per operation."""

from __future__ import annotations

import email.utils
import random
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypedDict
from urllib.parse import quote

import httpx

RETRIED = frozenset({429, 503})  # the API answers 503 only when nothing was changed
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FileUpload = tuple[str, bytes] | tuple[str, bytes, str]  # (filename, content[, media type])


class FieldError(TypedDict):
    field: str
    message: str


class ApiError(Exception):
    """An error answer of the API (RFC 9457 problem details when the API wrote it)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        errors: list[FieldError] | None = None,
        *,
        type: str = "about:blank",
        instance: str | None = None,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.errors: list[FieldError] = errors or []
        self.type = type
        self.instance = instance
        self.retry_after = retry_after
        self.body = body
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.status} {self.title}"
        if self.detail and self.detail != self.title:
            text += f": {self.detail}"
        for error in self.errors:
            text += f"\n  {error.get('field', '')}: {error.get('message', '')}"
        return text

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "title" in body:
            errors = [
                FieldError(field=str(e.get("field", "")), message=str(e.get("message", "")))
                for e in body.get("errors") or []
                if isinstance(e, dict)
            ]
            return cls(
                int(body.get("status", response.status_code)),
                str(body["title"]),
                str(body.get("detail") or ""),
                errors,
                type=str(body.get("type", "about:blank")),
                instance=body.get("instance"),
                retry_after=retry_after,
                body=body,
            )
        detail = response.text[:500] if body is None else str(body)[:500]
        return cls(
            response.status_code,
            response.reason_phrase or "Error",
            detail,
            retry_after=retry_after,
            body=body,
        )


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait: Retry-After is delay-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def new_idempotency_key() -> str:
    """One key per logical call: retries of that call send the same key."""
    return uuid.uuid4().hex


class BaseClient:
    """A synchronous client on httpx. `http` may be any httpx.Client (a TestClient, a client
    with a mock or ASGI transport); otherwise one is made for `base_url`."""

    def __init__(
        self,
        base_url: str = "http://localhost:8000",
        token: str | None = None,
        *,
        http: httpx.Client | None = None,
        timeout: float = 30.0,
        max_retries: int = 4,
        max_retry_wait: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._own_http = http is None
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self.token = token
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self._sleep = sleep

    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @staticmethod
    def _path(template: str, **values: object) -> str:
        return template.format(**{k: quote(str(v), safe="") for k, v in values.items()})

    def _backoff(self, attempt: int) -> float:
        return float(min(self.max_retry_wait, 0.5 * 2**attempt + random.uniform(0, 0.25)))  # noqa: S311

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, FileUpload] | None = None,
        headers: Mapping[str, str | None] | None = None,
        idempotent: bool = False,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Send one logical call; raise ApiError for an error answer.

        503 and 429 are tried again up to `max_retries` times, after Retry-After (or a short
        backoff when absent); a Retry-After longer than `max_retry_wait` is not waited for:
        the ApiError carries it. A connection that fails is tried again only when repeating
        is harmless (a GET, or a call carrying an Idempotency-Key). `idempotent` routes get a
        key made here when none is given, the same for every retry of this call."""
        sent_headers = {k: v for k, v in (headers or {}).items() if v is not None}
        if self.token:
            sent_headers["Authorization"] = f"Bearer {self.token}"
        if idempotent or idempotency_key:
            sent_headers["Idempotency-Key"] = idempotency_key or new_idempotency_key()
        query = {k: v for k, v in (params or {}).items() if v is not None}
        form = {k: v for k, v in (data or {}).items() if v is not None} or None
        repeatable = method.upper() in SAFE_METHODS or "Idempotency-Key" in sent_headers
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method,
                    path,
                    params=query or None,
                    json=json,
                    data=form,
                    files=dict(files) if files else None,
                    headers=sent_headers,
                )
            except httpx.TransportError:
                if not repeatable or attempt >= self.max_retries:
                    raise
                self._sleep(self._backoff(attempt))
                attempt += 1
                continue
            if response.status_code in RETRIED and attempt < self.max_retries:
                wait = parse_retry_after(response.headers.get("Retry-After"))
                if wait is None:
                    wait = self._backoff(attempt)
                if wait <= self.max_retry_wait:
                    response.close()
                    self._sleep(wait)
                    attempt += 1
                    continue
            if response.status_code >= 400:
                response.read()
                raise ApiError.from_response(response)
            return response
