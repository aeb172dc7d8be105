"""A brand's webhook endpoints (brand admins: webhook.manage). docs/webhooks.md describes
the events, the signature and the retries."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlmodel import Session

from api.deps import RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.routers.params import PagingDep, page_of
from api.security import WebhookManager
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.schemas import Page
from models.webhook_schemas import (
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryRead,
    WebhookEventRead,
    WebhookRead,
    WebhookSecret,
    WebhookUpdate,
)
from models.webhooks import WebhookEndpoint, WebhookEventState
from services.org import Actor
from services.webhooks import endpoints as svc
from services.webhooks import starter

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


def _read(session: Session, endpoint: WebhookEndpoint) -> WebhookRead:
    assert endpoint.id is not None
    counts = svc.counts(session, endpoint.id)
    return WebhookRead.model_validate(endpoint).model_copy(
        update={"pending_events": counts.pending, "failed_events": counts.failed}
    )


async def _nudge(
    session: Session, temporal: LazyTemporalClient, settings: Settings, endpoint_id: int
) -> None:
    """After the commit: the workflow must see the rows it is told about."""
    session.commit()
    try:
        client = await temporal.get()
    except Exception:
        return
    await starter.nudge(client, settings.temporal_task_queue, endpoint_id)


@router.post("", response_model=WebhookCreated, status_code=201, summary="Register a webhook")
async def create_webhook(
    principal: WebhookManager,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    rid: RequestIdDep,
    body: WebhookCreate,
) -> WebhookCreated:
    """The signing secret is in this answer only; store it now."""
    endpoint = svc.create(
        session,
        settings,
        Actor(principal, rid),
        url=body.url,
        event_types=body.event_types,
        description=body.description,
    )
    assert endpoint.id is not None
    read = _read(session, endpoint)
    await _nudge(session, temporal, settings, endpoint.id)
    return WebhookCreated(**read.model_dump(), secret=endpoint.secret)


@router.get("", response_model=Page[WebhookRead], summary="List the brand's webhooks")
def list_webhooks(
    principal: WebhookManager,
    session: SessionDep,
    paging: PagingDep,
    sort: str = svc.ENDPOINTS.sort_query(),
) -> Page[WebhookRead]:
    result = svc.list_endpoints(session, principal, paging, sort)
    return page_of(result, paging, (_read(session, e) for e in result.items))


@router.get("/{webhook_id}", response_model=WebhookRead, summary="Read a webhook")
def read_webhook(principal: WebhookManager, session: SessionDep, webhook_id: int) -> WebhookRead:
    return _read(session, svc.load(session, principal, webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookRead, summary="Change or re-enable a webhook")
async def update_webhook(
    principal: WebhookManager,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    rid: RequestIdDep,
    webhook_id: int,
    body: WebhookUpdate,
) -> WebhookRead:
    changes = body.model_dump(exclude_unset=True)
    endpoint = svc.update(session, settings, Actor(principal, rid), webhook_id, changes)
    read = _read(session, endpoint)
    if endpoint.enabled:
        await _nudge(session, temporal, settings, webhook_id)
    return read


@router.delete("/{webhook_id}", status_code=204, summary="Delete a webhook and its log")
def delete_webhook(
    principal: WebhookManager, session: SessionDep, rid: RequestIdDep, webhook_id: int
) -> Response:
    svc.remove(session, Actor(principal, rid), webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookSecret,
    summary="Rotate a webhook's signing secret",
)
def rotate_webhook_secret(
    principal: WebhookManager,
    session: SessionDep,
    settings: SettingsDep,
    rid: RequestIdDep,
    webhook_id: int,
) -> WebhookSecret:
    """The new secret signs at once; the old one also signs (a second signature in
    webhook-signature) until `previous_secret_until` (WEBHOOK_SECRET_OVERLAP_HOURS)."""
    endpoint = svc.rotate_secret(session, settings, Actor(principal, rid), webhook_id)
    assert endpoint.id is not None
    return WebhookSecret(
        id=endpoint.id,
        secret=endpoint.secret,
        previous_secret_until=endpoint.previous_secret_until,
    )


@router.get(
    "/{webhook_id}/deliveries",
    response_model=Page[WebhookDeliveryRead],
    summary="A webhook's delivery log, newest first",
)
def list_webhook_deliveries(
    principal: WebhookManager,
    session: SessionDep,
    paging: PagingDep,
    webhook_id: int,
    event_id: int | None = None,
    sort: str = svc.DELIVERIES.sort_query(),
) -> Page[WebhookDeliveryRead]:
    result = svc.list_deliveries(session, principal, webhook_id, paging, sort, event_id)
    return page_of(result, paging, (WebhookDeliveryRead.model_validate(d) for d in result.items))


@router.get(
    "/{webhook_id}/events",
    response_model=Page[WebhookEventRead],
    summary="A webhook's events, newest first",
)
def list_webhook_events(
    principal: WebhookManager,
    session: SessionDep,
    paging: PagingDep,
    webhook_id: int,
    state: WebhookEventState | None = None,
    sort: str = svc.EVENTS.sort_query(),
) -> Page[WebhookEventRead]:
    result = svc.list_events(session, principal, webhook_id, paging, sort, state)
    return page_of(result, paging, (WebhookEventRead.model_validate(e) for e in result.items))


@router.post(
    "/{webhook_id}/events/{event_id}/redeliver",
    response_model=WebhookEventRead,
    status_code=202,
    summary="Send a logged webhook event again",
)
async def redeliver_webhook_event(
    principal: WebhookManager,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    rid: RequestIdDep,
    webhook_id: int,
    event_id: int,
) -> WebhookEventRead:
    """With the same webhook-id as before, so a receiver that has it can tell."""
    event = svc.redeliver(session, Actor(principal, rid), webhook_id, event_id)
    read = WebhookEventRead.model_validate(event)
    await _nudge(session, temporal, settings, webhook_id)
    return read


@router.post(
    "/{webhook_id}/test",
    response_model=WebhookEventRead,
    status_code=202,
    summary="Send a webhook.test ping",
)
async def send_webhook_test(
    principal: WebhookManager,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    rid: RequestIdDep,
    webhook_id: int,
) -> WebhookEventRead:
    event = svc.ping(session, Actor(principal, rid), webhook_id)
    read = WebhookEventRead.model_validate(event)
    await _nudge(session, temporal, settings, webhook_id)
    return read
