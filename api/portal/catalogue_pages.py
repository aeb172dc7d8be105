"""The catalogue in the portal: partners browse the published campaigns as cards (readable on
a phone) and order one with a button, then land on a confirmation that leads to the new
campaign's form; HQ manages the items on its own page. The same services as the API."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlmodel import Session, col, select

from api.deps import RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.portal.paging import portal_page
from api.portal.web import (
    PortalCatalogueManager,
    PortalCatalogueOrderer,
    PortalCatalogueReader,
    PortalRoute,
    render,
)
from core.errors import Problem
from core.policy import Permission, Principal, visibility
from core.settings import Settings
from domain.catalogue import CatalogueState
from domain.states import TemplateState
from i18n.translate import N_, gettext
from models.catalogue_schemas import CatalogueItemCreate, CatalogueOrderCreate
from models.org import Partner, Region
from models.templates import Template, TemplateVersion
from services.catalogue import items, ordering, orders
from services.org import Actor

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])
MAX_ITEMS = 200  # a brand publishes dozens of items, never hundreds
# What a partner reads about an item's approval, and what HQ picks from when making one.
POLICIES = {"gm": N_("your GM approves"), "gm_then_hq": N_("your GM, then HQ, approve")}
POLICY_CHOICES = {"gm": N_("The partner's GM"), "gm_then_hq": N_("The GM, then HQ")}
FIELDS = (
    "title",
    "description",
    "template_version_id",
    "personalise_days",
    "send_within_days",
    "approval_policy",
    "budget_hint",
    "budget_currency",
)


def own_partner(session: Session, principal: Principal) -> Partner | None:
    """The one partner the caller orders for from the portal (partner users); None for
    callers who act for many (HQ orders for a partner through the API)."""
    own = sorted(visibility(principal, Permission.catalogue_order).partner_ids)
    return session.get(Partner, own[0]) if len(own) == 1 else None


def _cards(session: Session, settings: Settings, principal: Principal) -> list[dict[str, Any]]:
    everything = portal_page(settings, None, MAX_ITEMS)
    result = items.list_items(session, principal, everything, state=CatalogueState.published)
    cards = []
    for item in result.items:
        read = items.item_read(item, orders.may_order(session, principal, item))
        cards.append(
            {
                "item": read,
                "approval": gettext(POLICIES[read.approval_policy])
                if read.approval_policy in POLICIES
                else read.approval_policy,
                "budget": f"{read.budget_currency} {read.budget_hint}" if read.budget_hint else "",
            }
        )
    return cards


def _catalogue(
    request: Request,
    session: Session,
    settings: Settings,
    principal: Principal,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    mine = orders.list_orders(session, principal, portal_page(settings, None))
    return render(
        request,
        "catalogue.html",
        status=status,
        title=gettext("Campaign catalogue"),
        cards=_cards(session, settings, principal),
        partner=own_partner(session, principal),
        manages=items.manages(principal, principal.brand_id),
        orders=orders.order_reads(session, list(mine.items)),
        order_key=uuid.uuid4().hex,
        error=error,
    )


@router.get("/catalogue", response_class=HTMLResponse)
def catalogue_page(
    principal: PortalCatalogueReader, request: Request, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    return _catalogue(request, session, settings, principal)


@router.post("/catalogue/{item_id}/order", response_class=HTMLResponse, response_model=None)
async def order_from_catalogue(
    principal: PortalCatalogueOrderer,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    rid: RequestIdDep,
    item_id: int,
) -> Response:
    """The form carries a key made when the page was shown: a double tap or a resent form
    makes one campaign."""
    posted = await request.form()
    key = str(posted.get("order_key", ""))[:200] or None
    try:
        placed = await ordering.order(
            session,
            temporal.get,
            settings,
            Actor(principal, rid),
            item_id,
            CatalogueOrderCreate(),
            key,
        )
    except Problem as err:
        session.rollback()
        return _catalogue(request, session, settings, principal, err.detail, err.status)
    return RedirectResponse(f"/catalogue/orders/{placed.order.id}", status_code=303)


@router.get("/catalogue/orders/{order_id}", response_class=HTMLResponse)
def catalogue_order_page(
    principal: PortalCatalogueReader, request: Request, session: SessionDep, order_id: int
) -> HTMLResponse:
    order = orders.load_order(session, principal, order_id)
    read = orders.order_reads(session, [order])[0]
    return render(
        request,
        "catalogue_order.html",
        title=gettext("Ordered: %(item)s", item=read.item_title),
        o=read,
    )


def _versions(session: Session, brand_id: int) -> list[tuple[int, str]]:
    rows = session.exec(
        select(TemplateVersion.id, Template.name, TemplateVersion.number)
        .join(Template, col(Template.id) == col(TemplateVersion.template_id))
        .where(Template.brand_id == brand_id, TemplateVersion.state == TemplateState.published)
        .order_by(col(Template.name), col(TemplateVersion.number))
    ).all()
    return [(int(vid or 0), f"{name} v{number}") for vid, name, number in rows]


def _manage(
    request: Request,
    session: Session,
    settings: Settings,
    principal: Principal,
    values: dict[str, Any] | None = None,
    error: tuple[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    result = items.list_items(session, principal, portal_page(settings, None, MAX_ITEMS))
    regions = session.exec(
        select(Region).where(Region.brand_id == principal.brand_id).order_by(col(Region.name))
    ).all()
    names = {r.id: r.name for r in regions}
    return render(
        request,
        "catalogue_manage.html",
        status=status,
        title=gettext("Manage the catalogue"),
        approval_labels={k: gettext(v) for k, v in POLICY_CHOICES.items()},
        items=[items.item_read(i, False) for i in result.items],
        region_names=names,
        regions=regions,
        versions=_versions(session, principal.brand_id),
        values=values or {"personalise_days": 7, "send_within_days": 14, "budget_currency": "EUR"},
        error=error,
    )


@router.get("/catalogue/manage", response_class=HTMLResponse)
def catalogue_manage_page(
    principal: PortalCatalogueManager, request: Request, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    return _manage(request, session, settings, principal)


@router.post("/catalogue/manage", response_class=HTMLResponse, response_model=None)
async def create_catalogue_item_form(
    principal: PortalCatalogueManager,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    rid: RequestIdDep,
) -> Response:
    posted = await request.form()
    values: dict[str, Any] = {k: str(posted.get(k, "")).strip() for k in FIELDS}
    body = {k: v for k, v in values.items() if v != ""}
    if "budget_hint" not in body:  # no guide: the currency field's default means nothing
        body.pop("budget_currency", None)
    body["regions"] = [int(str(r)) for r in posted.getlist("regions") if str(r).isdigit()]
    try:
        made = CatalogueItemCreate.model_validate(body)
        item = items.create_item(session, Actor(principal, rid), made)
        if posted.get("publish"):
            items.set_state(session, Actor(principal, rid), item, CatalogueState.published)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "form"
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        return _manage(request, session, settings, principal, values, (field, message), 422)
    except Problem as err:
        session.rollback()
        field = (err.errors or [{}])[0].get("field", "form")
        return _manage(
            request, session, settings, principal, values, (field, err.detail), err.status
        )
    session.commit()
    return RedirectResponse("/catalogue/manage", status_code=303)


@router.post("/catalogue/{item_id}/publish", response_class=RedirectResponse)
def publish_catalogue_item_form(
    principal: PortalCatalogueManager, session: SessionDep, rid: RequestIdDep, item_id: int
) -> Response:
    item = items.load_item(session, principal, item_id)
    items.set_state(session, Actor(principal, rid), item, CatalogueState.published)
    session.commit()
    return RedirectResponse("/catalogue/manage", status_code=303)


@router.post("/catalogue/{item_id}/withdraw", response_class=RedirectResponse)
def withdraw_catalogue_item_form(
    principal: PortalCatalogueManager, session: SessionDep, rid: RequestIdDep, item_id: int
) -> Response:
    item = items.load_item(session, principal, item_id)
    items.set_state(session, Actor(principal, rid), item, CatalogueState.withdrawn)
    session.commit()
    return RedirectResponse("/catalogue/manage", status_code=303)
