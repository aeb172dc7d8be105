"""Delivering webhook events: which are due, one attempt, its log row, retries, disabling.

Times that decide retries (`now`) come from the endpoint's workflow (workflow.now()), so the
schedule follows the workflow's clock, also under the time-skipping test server; the
`webhook-timestamp` header is the wall clock, which the receiver compares with its own.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.settings import Settings
from models.base import utcnow
from models.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookEventState
from services import audit
from services.webhooks import deadline, signing, ssrf

log = logging.getLogger(__name__)

HEADS_PER_ROUND = 20  # subjects attempted concurrently in one round of the workflow
EXCERPT_CHARS = 200
USER_AGENT = "Brandrelay-Webhooks/1"


def aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Due:
    status: str  # "active" | "disabled" | "gone"
    event_ids: list[int]
    next_check_seconds: float


def due_events(session: Session, endpoint_id: int, now: datetime, poll_seconds: float) -> Due:
    """The oldest pending event of each subject, when it is due: events of one subject go out
    in order, a subject waiting on a retry holds back only itself (and is never in the way
    of subjects that are due, however many wait)."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        return Due("gone", [], poll_seconds)
    if not endpoint.enabled:
        return Due("disabled", [], poll_seconds)
    heads = (
        select(func.min(WebhookEvent.id).label("id"))
        .where(WebhookEvent.endpoint_id == endpoint_id, WebhookEvent.state == "pending")
        .group_by(col(WebhookEvent.subject))
        .subquery()
    )
    head = col(WebhookEvent.id) == heads.c.id
    when = col(WebhookEvent.next_attempt_at)
    ready = session.exec(
        select(WebhookEvent.id)
        .join(heads, head)
        .where(or_(when.is_(None), when <= now))
        .order_by(col(WebhookEvent.id))
        .limit(HEADS_PER_ROUND)
    ).all()
    later = session.exec(select(func.min(when)).join(heads, head).where(when > now)).first()
    wait = poll_seconds
    if later is not None:
        wait = min(wait, max(1.0, (aware(later) - now).total_seconds()))
    return Due("active", [i for i in ready if i is not None], wait)


def backoff_seconds(settings: Settings, attempts: int) -> float:
    """5 s, 10 s, 20 s ... up to WEBHOOK_RETRY_MAX_SECONDS (attempts counts the failed ones)."""
    base = settings.webhook_retry_base_seconds * 2 ** max(0, attempts - 1)
    return float(min(base, settings.webhook_retry_max_seconds))


@dataclass(frozen=True)
class Response:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int
    excerpt: str


def body_of(event: WebhookEvent) -> bytes:
    return json.dumps(event.payload, separators=(",", ":"), sort_keys=True).encode()


def signing_secrets(endpoint: WebhookEndpoint, at: datetime) -> list[str]:
    """The current secret, and the previous one while the rotation's overlap lasts."""
    out = [endpoint.secret]
    until = endpoint.previous_secret_until
    if endpoint.previous_secret and until is not None and aware(until) > at:
        out.append(endpoint.previous_secret)
    return out


_clients: dict[float, httpx.Client] = {}
_clients_lock = threading.Lock()


def http_client(timeout: float) -> httpx.Client:
    """One client per process and timeout: building one loads the CA bundle (tens of ms).
    Connections are never kept alive: the pool is keyed by the pinned address, so a TLS
    connection made for one name must not carry a request for another name on that address;
    redirects are never followed; proxies from the environment are ignored. `timeout` bounds
    each network operation; post() bounds the whole request (deadline.py)."""
    with _clients_lock:
        client = _clients.get(timeout)
        if client is None:
            client = httpx.Client(
                transport=deadline.DeadlineTransport(),
                timeout=timeout,
                follow_redirects=False,
                trust_env=False,
            )
            _clients[timeout] = client
        return client


def post(settings: Settings, endpoint: WebhookEndpoint, event: WebhookEvent) -> Response:
    """One POST to the address that passed the SSRF check, never following a redirect, within
    WEBHOOK_TIMEOUT_SECONDS in all (connect, send, read the answer)."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    allow_private = settings.webhook_allow_private_addresses
    try:
        dest = ssrf.parse(
            endpoint.url, allow_http=settings.webhook_allow_http, allow_private=allow_private
        )
        address = ssrf.resolve(dest, allow_private=allow_private)[0]
    except ssrf.UnsafeUrl as err:
        return Response(False, None, f"refused: {err}"[:500], took(), "")
    body = body_of(event)
    headers = signing.sign_headers(
        signing_secrets(endpoint, utcnow()), event.message_id, int(time.time()), body
    )
    default_port = 443 if dest.scheme == "https" else 80
    host = f"[{dest.host}]" if ":" in dest.host else dest.host  # an IPv6 literal
    headers.update(
        {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "host": host if dest.port == default_port else f"{host}:{dest.port}",
        }
    )
    extensions = {"sni_hostname": dest.host} if dest.scheme == "https" else {}
    client = http_client(settings.webhook_timeout_seconds)
    try:
        with (
            deadline.within(settings.webhook_timeout_seconds),
            client.stream(
                "POST",
                ssrf.pinned_url(dest, address),
                content=body,
                headers=headers,
                extensions=extensions,
            ) as answer,
        ):
            excerpt = _excerpt(answer)
            code = answer.status_code
    except httpx.HTTPError as err:
        return Response(False, None, f"{type(err).__name__}: {err}"[:500], took(), "")
    if 200 <= code < 300:
        return Response(True, code, None, took(), excerpt)
    why = "redirect not followed" if 300 <= code < 400 else f"HTTP {code}"
    return Response(False, code, why, took(), excerpt)


def _excerpt(answer: httpx.Response) -> str:
    read = b""
    for chunk in answer.iter_bytes():
        read += chunk
        if len(read) >= EXCERPT_CHARS * 4:
            break
    return read.decode("utf-8", "replace")[:EXCERPT_CHARS]


@dataclass(frozen=True)
class Attempt:
    outcome: str  # "delivered" | "retry" | "failed" | "skipped"
    endpoint_disabled: bool = False


def attempt(engine: Engine, settings: Settings, event_id: int, now: datetime) -> Attempt:
    """Send one pending event once and record it; what happens next is in the rows."""
    with Session(engine, expire_on_commit=False) as session:
        event = session.get(WebhookEvent, event_id)
        endpoint = session.get(WebhookEndpoint, event.endpoint_id) if event else None
    if event is None or endpoint is None or event.state != WebhookEventState.pending:
        return Attempt("skipped")
    if not endpoint.enabled:
        return Attempt("skipped")
    response = post(settings, endpoint, event)
    return record(engine, settings, event_id, response, now)


def record(
    engine: Engine, settings: Settings, event_id: int, response: Response, now: datetime
) -> Attempt:
    for _ in range(20):
        with Session(engine, expire_on_commit=False) as session:
            try:
                audit.begin_write(session)
                result = _record_in(session, settings, event_id, response, now)
                session.commit()
                return result
            except IntegrityError:  # a lost audit chain race (disabling): once more
                session.rollback()
    raise RuntimeError(f"could not record the attempt of webhook event {event_id}")


def _record_in(
    session: Session, settings: Settings, event_id: int, response: Response, now: datetime
) -> Attempt:
    event = session.get(WebhookEvent, event_id)
    if event is None or event.state != WebhookEventState.pending:
        return Attempt("skipped")
    endpoint = session.get(WebhookEndpoint, event.endpoint_id)
    if endpoint is None:
        return Attempt("skipped")
    assert event.id is not None and endpoint.id is not None
    event.attempts += 1
    session.add(
        WebhookDelivery(
            endpoint_id=endpoint.id,
            event_id=event.id,
            brand_id=event.brand_id,
            attempt=event.attempts,
            at=now,
            ok=response.ok,
            status_code=response.status_code,
            error=response.error,
            duration_ms=response.duration_ms,
            response_excerpt=response.excerpt,
            manual=event.manual,
        )
    )
    if response.ok:
        event.state = WebhookEventState.delivered
        event.delivered_at = now
        event.last_error = None
        endpoint.failing_since = None
        endpoint.failed_events_in_row = 0
        outcome = "delivered"
    else:
        event.last_error = response.error
        endpoint.failing_since = endpoint.failing_since or now
        window = timedelta(hours=settings.webhook_retry_window_hours)
        if now - aware(event.window_started_at) >= window:
            event.state = WebhookEventState.failed
            event.next_attempt_at = None
            endpoint.failed_events_in_row += 1
            outcome = "failed"
        else:
            event.next_attempt_at = now + timedelta(
                seconds=backoff_seconds(settings, event.attempts)
            )
            outcome = "retry"
    session.add(event)
    disabled = not response.ok and _disable_if_failing(session, settings, endpoint, now)
    session.add(endpoint)
    return Attempt(outcome, endpoint_disabled=disabled)


def _disable_if_failing(
    session: Session, settings: Settings, endpoint: WebhookEndpoint, now: datetime
) -> bool:
    since = endpoint.failing_since
    too_long = since is not None and now - aware(since) >= timedelta(
        hours=settings.webhook_disable_after_hours
    )
    too_many = endpoint.failed_events_in_row >= settings.webhook_disable_after_failed_events
    if not endpoint.enabled or not (too_long or too_many):
        return False
    reason = (
        f"every attempt failed since {aware(since).isoformat()}"
        if too_long and since is not None
        else f"{endpoint.failed_events_in_row} events in a row failed"
    )
    disable(session, endpoint, reason, now)
    return True


def disable(session: Session, endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    """Stop sending (pending events wait for a re-enable) and say so in the audit trail."""
    assert endpoint.id is not None
    endpoint.enabled = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason[:500]
    endpoint.updated_at = utcnow()
    session.add(endpoint)
    audit.append_in(
        session,
        audit.NewEvent(
            brand_id=endpoint.brand_id,
            actor=audit.SYSTEM_ACTOR,
            action="webhook_endpoint.disabled",
            entity_type="webhook_endpoint",
            entity_id=str(endpoint.id),
            event_key=f"webhook_endpoint:{endpoint.id}:disabled:{now.isoformat()}",
            after={"enabled": False, "url": endpoint.url},
            comment=reason,
        ),
    )
