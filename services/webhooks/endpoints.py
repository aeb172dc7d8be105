"""A brand's webhook endpoints: registration, changes, secret rotation, the delivery log,
redelivery and the test ping. Every change is audited; nothing of another brand is visible."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy import update as sa_update
from sqlmodel import Session, col, delete, select

from core.errors import FieldError, Forbidden, NotFound
from core.policy import Permission, Principal, Target, allows
from core.settings import Settings
from models.base import utcnow
from models.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookEventState
from services import audit
from services.org import Actor, record_about
from services.paging import Key, Listing, Paged, PageRequest, fetch
from services.webhooks import capture, signing, ssrf

ENDPOINTS = Listing(
    "webhooks",
    col(WebhookEndpoint.id),
    {"id": Key(col(WebhookEndpoint.id), "int")},
    default="id",
)
DELIVERIES = Listing(
    "webhook-deliveries",
    col(WebhookDelivery.id),
    {"id": Key(col(WebhookDelivery.id), "int")},
    default="-id",
)
EVENTS = Listing(
    "webhook-events",
    col(WebhookEvent.id),
    {"id": Key(col(WebhookEvent.id), "int")},
    default="-id",
)
SUBSCRIBABLE = frozenset(capture.EVENT_TYPES)


def _brand(principal: Principal) -> int:
    """Endpoints are the brand's: a grant over the whole brand is needed, not a region's."""
    if not allows(principal, Permission.webhook_manage, Target(principal.brand_id)):
        raise Forbidden("Webhooks are managed by the brand's admins")
    return principal.brand_id


def snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the audit trail records: never a secret."""
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
    }


def check_event_types(event_types: list[str]) -> list[str]:
    unknown = sorted(set(event_types) - SUBSCRIBABLE)
    if unknown:
        known = ", ".join(capture.EVENT_TYPES)
        raise FieldError("event_types", f"unknown: {', '.join(unknown)} (known: {known})")
    if not event_types:
        raise FieldError("event_types", "must name at least one event type")
    return sorted(set(event_types))


def check_url(settings: Settings, url: str) -> str:
    try:
        dest = ssrf.check_registration(
            url,
            allow_http=settings.webhook_allow_http,
            allow_private=settings.webhook_allow_private_addresses,
        )
    except ssrf.UnsafeUrl as err:
        raise FieldError("url", str(err)) from err
    return dest.url


def _audit(
    session: Session, actor: Actor, action: str, endpoint: WebhookEndpoint, before: Any
) -> None:
    record_about(
        session,
        actor,
        action,
        Target(endpoint.brand_id),
        "webhook_endpoint",
        str(endpoint.id),
        before,
        snapshot(endpoint),
    )


def create(
    session: Session,
    settings: Settings,
    actor: Actor,
    *,
    url: str,
    event_types: list[str],
    description: str,
) -> WebhookEndpoint:
    brand_id = _brand(actor.principal)
    endpoint = WebhookEndpoint(
        brand_id=brand_id,
        url=check_url(settings, url),
        event_types=check_event_types(event_types),
        description=description,
        secret=signing.new_secret(),
        created_by=actor.principal.user_id,
    )
    session.add(endpoint)
    session.flush()
    _audit(session, actor, "webhook_endpoint.created", endpoint, None)
    return endpoint


def list_endpoints(
    session: Session, principal: Principal, paging: PageRequest, sort: str
) -> Paged[WebhookEndpoint]:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.brand_id == _brand(principal))
    return fetch(session, stmt, ENDPOINTS, sort, paging)


def load(session: Session, principal: Principal, endpoint_id: int) -> WebhookEndpoint:
    brand_id = _brand(principal)
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.brand_id != brand_id:
        raise NotFound("webhook", endpoint_id)
    return endpoint


def load_locked(session: Session, principal: Principal, endpoint_id: int) -> WebhookEndpoint:
    """For changes: parallel requests on one endpoint apply one after the other (row lock on
    PostgreSQL, the write lock taken first on SQLite), so two rotations never both keep the
    same old secret and lose one of the new ones."""
    brand_id = _brand(principal)
    audit.begin_write(session)
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    endpoint = session.exec(stmt).first()
    if endpoint is None or endpoint.brand_id != brand_id:
        raise NotFound("webhook", endpoint_id)
    return endpoint


def update(
    session: Session,
    settings: Settings,
    actor: Actor,
    endpoint_id: int,
    changes: dict[str, Any],
) -> WebhookEndpoint:
    """Change url, event types, description or enabled; re-enabling clears the failure."""
    endpoint = load_locked(session, actor.principal, endpoint_id)
    before = snapshot(endpoint)
    if "url" in changes:
        endpoint.url = check_url(settings, changes["url"])
    if "event_types" in changes:
        endpoint.event_types = check_event_types(changes["event_types"])
    if "description" in changes:
        endpoint.description = changes["description"]
    if "enabled" in changes and changes["enabled"] != endpoint.enabled:
        endpoint.enabled = bool(changes["enabled"])
        if endpoint.enabled:
            endpoint.disabled_at = None
            endpoint.disabled_reason = None
            endpoint.failing_since = None
            endpoint.failed_events_in_row = 0
            _resume_pending(session, endpoint_id)
        else:
            endpoint.disabled_at = utcnow()
            endpoint.disabled_reason = "disabled by a brand admin"
    endpoint.updated_at = utcnow()
    session.add(endpoint)
    session.flush()
    _audit(session, actor, "webhook_endpoint.updated", endpoint, before)
    return endpoint


def _resume_pending(session: Session, endpoint_id: int) -> None:
    """What waited while the endpoint was disabled is due now, with a fresh retry window
    (the admin asked for delivery to resume, not for the backlog to fail at once)."""
    now = utcnow()
    session.exec(
        sa_update(WebhookEvent)
        .where(
            col(WebhookEvent.endpoint_id) == endpoint_id,
            col(WebhookEvent.state) == WebhookEventState.pending.value,
        )
        .values(next_attempt_at=now, window_started_at=now)
    )


def remove(session: Session, actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    """The endpoint with its events and log; its workflow finds it gone and ends."""
    endpoint = load_locked(session, actor.principal, endpoint_id)
    _audit(session, actor, "webhook_endpoint.deleted", endpoint, snapshot(endpoint))
    session.exec(delete(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint_id))
    session.exec(delete(WebhookEvent).where(col(WebhookEvent.endpoint_id) == endpoint_id))
    session.delete(endpoint)
    session.flush()
    return endpoint


def rotate_secret(
    session: Session, settings: Settings, actor: Actor, endpoint_id: int
) -> WebhookEndpoint:
    """A new secret signs from now on; the old one signs too until the overlap ends, so
    receivers can switch without dropping a message. A second rotation within the overlap
    drops the oldest secret."""
    endpoint = load_locked(session, actor.principal, endpoint_id)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = utcnow() + timedelta(
        hours=settings.webhook_secret_overlap_hours
    )
    endpoint.secret = signing.new_secret()
    endpoint.updated_at = utcnow()
    session.add(endpoint)
    session.flush()
    record_about(
        session,
        actor,
        "webhook_endpoint.secret_rotated",
        Target(endpoint.brand_id),
        "webhook_endpoint",
        str(endpoint.id),
        None,
        {"previous_secret_until": endpoint.previous_secret_until.isoformat()},
    )
    return endpoint


def list_deliveries(
    session: Session,
    principal: Principal,
    endpoint_id: int,
    paging: PageRequest,
    sort: str,
    event_id: int | None = None,
) -> Paged[WebhookDelivery]:
    load(session, principal, endpoint_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if event_id is not None:
        stmt = stmt.where(WebhookDelivery.event_id == event_id)
    return fetch(session, stmt, DELIVERIES, sort, paging)


def list_events(
    session: Session,
    principal: Principal,
    endpoint_id: int,
    paging: PageRequest,
    sort: str,
    state: WebhookEventState | None = None,
) -> Paged[WebhookEvent]:
    load(session, principal, endpoint_id)
    stmt = select(WebhookEvent).where(WebhookEvent.endpoint_id == endpoint_id)
    if state is not None:
        stmt = stmt.where(WebhookEvent.state == state)
    return fetch(session, stmt, EVENTS, sort, paging)


def load_event(
    session: Session, principal: Principal, endpoint_id: int, event_id: int
) -> WebhookEvent:
    load(session, principal, endpoint_id)
    event = session.get(WebhookEvent, event_id)
    if event is None or event.endpoint_id != endpoint_id:
        raise NotFound("webhook event", event_id)
    return event


def redeliver(session: Session, actor: Actor, endpoint_id: int, event_id: int) -> WebhookEvent:
    """Send a logged event again (same webhook-id, so a receiver that has it can tell): back
    to pending with a fresh retry window, due now."""
    event = load_event(session, actor.principal, endpoint_id, event_id)
    now = utcnow()
    event.state = WebhookEventState.pending
    event.manual = True
    event.next_attempt_at = now
    event.window_started_at = now
    event.delivered_at = None
    session.add(event)
    session.flush()
    record_about(
        session,
        actor,
        "webhook_endpoint.redelivery_requested",
        Target(event.brand_id),
        "webhook_endpoint",
        str(endpoint_id),
        None,
        {"event_id": event.id, "message_id": event.message_id},
    )
    return event


def ping(session: Session, actor: Actor, endpoint_id: int) -> WebhookEvent:
    """A `webhook.test` event for this endpoint only (enabled or not: it is sent once the
    endpoint is enabled)."""
    endpoint = load(session, actor.principal, endpoint_id)
    now = utcnow()
    message_id = capture.new_message_id()
    event = WebhookEvent(
        endpoint_id=endpoint_id,
        brand_id=endpoint.brand_id,
        message_id=message_id,
        source_key=f"test:{message_id}",
        event_type=capture.TEST,
        subject=f"webhook_endpoint:{endpoint_id}",
        payload={
            "type": capture.TEST,
            "version": capture.PAYLOAD_VERSION,
            "timestamp": now.isoformat().replace("+00:00", "Z"),
            "brand_id": endpoint.brand_id,
            "subject": f"webhook_endpoint:{endpoint_id}",
            "data": {"endpoint_id": endpoint_id, "message": "ping"},
        },
        next_attempt_at=now,
        created_at=now,
        window_started_at=now,
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class EndpointCounts:
    pending: int
    failed: int


def counts(session: Session, endpoint_id: int) -> EndpointCounts:
    rows = dict(
        session.exec(
            select(WebhookEvent.state, func.count())
            .where(WebhookEvent.endpoint_id == endpoint_id)
            .group_by(col(WebhookEvent.state))
        ).all()
    )
    return EndpointCounts(
        pending=int(rows.get(WebhookEventState.pending, 0)),
        failed=int(rows.get(WebhookEventState.failed, 0)),
    )


@dataclass(frozen=True)
class EndpointRow:
    endpoint: WebhookEndpoint
    pending: int
    failed: int


@dataclass(frozen=True)
class RecentAttempt:
    at: datetime
    endpoint_id: int
    event_type: str
    attempt: int
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int
    manual: bool


@dataclass(frozen=True)
class Overview:
    endpoints: list[EndpointRow]
    recent: list[RecentAttempt]


def overview(session: Session, principal: Principal, recent: int) -> Overview:
    """The portal's page: the brand's endpoints with their counts, the latest attempts."""
    brand_id = _brand(principal)
    rows = session.exec(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.brand_id == brand_id)
        .order_by(col(WebhookEndpoint.id))
    ).all()
    endpoints = []
    for endpoint in rows:
        assert endpoint.id is not None
        c = counts(session, endpoint.id)
        endpoints.append(EndpointRow(endpoint, c.pending, c.failed))
    attempts = session.exec(
        select(WebhookDelivery, WebhookEvent.event_type)
        .where(
            WebhookDelivery.brand_id == brand_id,
            col(WebhookDelivery.event_id) == col(WebhookEvent.id),
        )
        .order_by(col(WebhookDelivery.id).desc())
        .limit(recent)
    ).all()
    return Overview(
        endpoints,
        [
            RecentAttempt(
                d.at,
                d.endpoint_id,
                kind,
                d.attempt,
                d.ok,
                d.status_code,
                d.error,
                d.duration_ms,
                d.manual,
            )
            for d, kind in attempts
        ],
    )
