"""The campaign catalogue: HQ publishes campaigns, partners order them for themselves.

docs/catalogue.md describes the flow. An order makes a campaign for the ordering partner alone
and launches it as HQ's campaigns are launched, so it appears on the partner's "My campaigns"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from sqlmodel import Session

from api.deps import RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.routers.params import PagingDep, page_of
from api.security import CatalogueManager, CatalogueOrderer, CatalogueReader
from core.policy import Principal
from domain.catalogue import CatalogueState
from models.catalogue import CatalogueItem
from models.catalogue_schemas import (
    CatalogueItemCreate,
    CatalogueItemRead,
    CatalogueItemUpdate,
    CatalogueOrderCreate,
    CatalogueOrderRead,
)
from models.schemas import Page
from services.catalogue import items, ordering, orders
from services.org import Actor

router = APIRouter(prefix="/api/v1", tags=["catalogue"])


def _read(session: Session, principal: Principal, item: CatalogueItem) -> CatalogueItemRead:
    return items.item_read(item, orders.may_order(session, principal, item))


@router.post(
    "/catalogue",
    response_model=CatalogueItemRead,
    status_code=201,
    summary="Create a catalogue item (a draft until published)",
)
def create_catalogue_item(
    principal: CatalogueManager, session: SessionDep, rid: RequestIdDep, body: CatalogueItemCreate
) -> CatalogueItemRead:
    """HQ offers a published template version with a suggested window, an approval policy,
    a budget hint (shown to partners, never booked) and the regions that may order it
    (none: every partner)."""
    item = items.create_item(session, Actor(principal, rid), body)
    session.commit()
    return _read(session, principal, item)


@router.get("/catalogue", response_model=Page[CatalogueItemRead], summary="List catalogue items")
def list_catalogue_items(
    principal: CatalogueReader,
    session: SessionDep,
    paging: PagingDep,
    state: CatalogueState | None = None,
    sort: str = items.ITEMS.sort_query(),
) -> Page[CatalogueItemRead]:
    """HQ's managers see every item; everyone else the published items offered to their
    regions (`may_order` says whether the caller can order it)."""
    result = items.list_items(session, principal, paging, state=state, sort=sort)
    return page_of(result, paging, (_read(session, principal, i) for i in result.items))


@router.get(
    "/catalogue/orders",
    response_model=Page[CatalogueOrderRead],
    summary="List catalogue orders",
)
def list_catalogue_orders(
    principal: CatalogueReader,
    session: SessionDep,
    paging: PagingDep,
    item_id: Annotated[int | None, Query(ge=1, le=2**53)] = None,
    sort: str = orders.ORDERS.sort_query(),
) -> Page[CatalogueOrderRead]:
    """A partner's own orders, a region's, or the brand's, with each campaign's state and
    the page where the partner personalises it."""
    result = orders.list_orders(session, principal, paging, item_id=item_id, sort=sort)
    return page_of(result, paging, orders.order_reads(session, list(result.items)))


@router.get(
    "/catalogue/orders/{order_id}",
    response_model=CatalogueOrderRead,
    summary="Read a catalogue order",
)
def read_catalogue_order(
    principal: CatalogueReader, session: SessionDep, order_id: int
) -> CatalogueOrderRead:
    order = orders.load_order(session, principal, order_id)
    return orders.order_reads(session, [order])[0]


@router.get(
    "/catalogue/{item_id}", response_model=CatalogueItemRead, summary="Read a catalogue item"
)
def read_catalogue_item(
    principal: CatalogueReader, session: SessionDep, item_id: int
) -> CatalogueItemRead:
    return _read(session, principal, items.load_item(session, principal, item_id))


@router.patch(
    "/catalogue/{item_id}", response_model=CatalogueItemRead, summary="Edit a catalogue item"
)
def update_catalogue_item(
    principal: CatalogueManager,
    session: SessionDep,
    rid: RequestIdDep,
    item_id: int,
    body: CatalogueItemUpdate,
) -> CatalogueItemRead:
    """Orders made from now on use the new values; campaigns already ordered keep theirs."""
    item = items.load_item(session, principal, item_id)
    item = items.update_item(session, Actor(principal, rid), item, body)
    session.commit()
    return _read(session, principal, item)


@router.post(
    "/catalogue/{item_id}/publish",
    response_model=CatalogueItemRead,
    summary="Publish a catalogue item to partners",
)
def publish_catalogue_item(
    principal: CatalogueManager, session: SessionDep, rid: RequestIdDep, item_id: int
) -> CatalogueItemRead:
    """Idempotent; 409 when its template version is no longer published."""
    item = items.load_item(session, principal, item_id)
    item = items.set_state(session, Actor(principal, rid), item, CatalogueState.published)
    session.commit()
    return _read(session, principal, item)


@router.post(
    "/catalogue/{item_id}/withdraw",
    response_model=CatalogueItemRead,
    summary="Withdraw a catalogue item (no new orders)",
)
def withdraw_catalogue_item(
    principal: CatalogueManager, session: SessionDep, rid: RequestIdDep, item_id: int
) -> CatalogueItemRead:
    """Campaigns already ordered go on; 409 for a draft."""
    item = items.load_item(session, principal, item_id)
    item = items.set_state(session, Actor(principal, rid), item, CatalogueState.withdrawn)
    session.commit()
    return _read(session, principal, item)


@router.post(
    "/catalogue/{item_id}/orders",
    response_model=CatalogueOrderRead,
    status_code=201,
    responses={200: {"model": CatalogueOrderRead, "description": "the Idempotency-Key was seen"}},
    summary="Order a catalogue item for a partner (Idempotency-Key supported)",
)
async def order_catalogue_item(
    principal: CatalogueOrderer,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    rid: RequestIdDep,
    item_id: int,
    body: CatalogueOrderCreate,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(min_length=1, max_length=200, description="retries with the same key order once"),
    ] = None,
) -> CatalogueOrderRead:
    """Makes the partner's campaign (the item's template, policy and defaults; the window
    given or suggested) and launches it: the partner's editors find it on "My campaigns"
    (`form_url`), then it goes to its approvers. 409 while the partner's earlier order of
    the item is not approved yet, or for a withdrawn item; 422 naming the field for a window
    in the past or a partner outside the item's regions."""
    placed = await ordering.order(
        session, temporal.get, settings, Actor(principal, rid), item_id, body, idempotency_key
    )
    if not placed.created:
        response.status_code = 200
    return orders.order_reads(session, [placed.order])[0]
