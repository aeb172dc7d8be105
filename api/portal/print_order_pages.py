"""Print order pages for partners (and those who read their scope): the list, the order form
from an approved campaign with a print variant, and the order page with its steps, tracking,
the PDF and the decide and cancel buttons for those who may. The same services as the API."""

from __future__ import annotations

from datetime import date
from typing import Any

from babel.numbers import format_currency
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlmodel import Session, col, select

from api.deps import BlobStoreDep, RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.portal.paging import CursorQuery, pager, portal_page
from api.portal.schema_errors import field_errors, schema_errors
from api.portal.web import PortalPrintOrderCreator, PortalPrintOrderReader, PortalRoute, render
from api.routers.print_orders import PDF_URL_SECONDS, print_vendor
from core.errors import Conflict, FieldError, Forbidden
from core.policy import Permission, Principal, actor_of
from core.said import said
from i18n.catalogues import language_of
from i18n.context import current_locale
from i18n.translate import N_, gettext
from models.campaigns import Campaign, PartnerCampaign
from models.chain_io import ChainDecision
from models.org import Partner
from models.print_order_io import PrintOrderCancel
from models.print_order_schemas import PrintOrderCreate
from models.templates import TemplateVersion
from services import access
from services.approvals import chain_tasks
from services.org import Actor
from services.print_orders import orders, workflow_calls
from services.templates import content_of
from storage.redirects import same_origin
from workflows.print_order import PrintOrderWorkflow

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])
STEPS = (
    "quoted",
    "pending_approval",
    "approved",
    "submitting",
    "ordered",
    "accepted",
    "printed",
    "shipped",
    "delivered",
)
FIELDS = ("format", "quantity", "recipient_name", "street", "postal_code", "city", "country")
ORDER_FIELDS = ("partner_campaign_id", *FIELDS, "wanted_by")
FIELD_LABELS = {
    "partner_campaign_id": N_("Campaign"),
    "format": N_("Format"),
    "quantity": N_("Copies"),
    "recipient_name": N_("Deliver to"),
    "street": N_("Street and number"),
    "postal_code": N_("Postal code"),
    "city": N_("City"),
    "country": N_("Country"),
    "wanted_by": N_("Wanted by"),
}


def money(minor: int, currency: str) -> str:
    """'€ 12,50' / '12,50 €' / '€12.50': an amount in minor units, as the reader writes it."""
    lang = language_of(current_locale())
    return format_currency(minor / 100, currency, locale="en_GB" if lang == "en" else lang)


def orderable_campaigns(session: Session, principal: Principal) -> list[tuple[int, str]]:
    """(partner campaign id, label) of approved campaigns with a print variant the caller may
    order from, newest first."""
    stmt = (
        select(PartnerCampaign, Campaign, Partner, TemplateVersion)
        .join(Campaign, col(Campaign.id) == col(PartnerCampaign.campaign_id))
        .join(Partner, col(Partner.id) == col(PartnerCampaign.partner_id))
        .join(TemplateVersion, col(TemplateVersion.id) == col(Campaign.template_version_id))
        .where(
            access.scope_filter(
                principal,
                col(PartnerCampaign.brand_id),
                col(PartnerCampaign.region_id),
                col(PartnerCampaign.partner_id),
                Permission.print_order_create,
            ),
            col(PartnerCampaign.state).in_([s.value for s in orders.ORDERABLE]),
        )
        .order_by(col(PartnerCampaign.id).desc())
        .limit(100)
    )
    out = []
    for pc, campaign, partner, version in session.exec(stmt).all():
        content = content_of(version)
        if content.print is not None and pc.id is not None:
            sizes = "/".join(content.print.sizes)
            label = gettext(
                "%(campaign)s for %(partner)s (%(sizes)s)",
                campaign=campaign.name,
                partner=partner.display_name,
                sizes=sizes,
            )
            out.append((pc.id, label))
    return out


@router.get("/print-orders", response_class=HTMLResponse)
def print_orders_page(
    principal: PortalPrintOrderReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    cursor: CursorQuery = None,
) -> HTMLResponse:
    result = orders.list_orders(session, principal, portal_page(settings, cursor), "-id")
    can_order = bool(orderable_campaigns(session, principal))
    return render(
        request,
        "print_orders.html",
        title=gettext("Print orders"),
        money=money,
        items=result.items,
        pager=pager(request, result, {}),
        can_order=can_order,
    )


def _form(
    request: Request,
    session: Session,
    principal: Principal,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "print_order_new.html",
        status=status,
        title=gettext("Order prints"),
        field_labels={k: gettext(v) for k, v in FIELD_LABELS.items()},
        campaigns=orderable_campaigns(session, principal),
        values=values,
        errors=errors or {},
    )


@router.get("/print-orders/new", response_class=HTMLResponse)
def new_print_order_page(
    principal: PortalPrintOrderCreator,
    request: Request,
    session: SessionDep,
    partner_campaign_id: int | None = None,
) -> HTMLResponse:
    values: dict[str, Any] = {"partner_campaign_id": partner_campaign_id, "format": "A5"}
    values["country"] = "NL"
    return _form(request, session, principal, values)


@router.post("/print-orders", response_class=HTMLResponse, response_model=None)
async def create_print_order_form(
    principal: PortalPrintOrderCreator,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    rid: RequestIdDep,
) -> Response:
    posted = await request.form()
    values: dict[str, Any] = {k: str(posted.get(k, "")) for k in (*FIELDS, "wanted_by")}
    values["partner_campaign_id"] = str(posted.get("partner_campaign_id", ""))
    try:
        body = PrintOrderCreate.model_validate(values)
    except ValidationError as err:
        errors = schema_errors(err, ORDER_FIELDS, FIELD_LABELS)
        return _form(request, session, principal, values, errors, status=422)
    try:
        made = await run_in_threadpool(  # the vendor's bands are asked over HTTP
            orders.create,
            session,
            Actor(principal, rid),
            body,
            print_vendor(request, settings),
            None,
        )
    except FieldError as err:
        return _form(
            request,
            session,
            principal,
            values,
            field_errors(err, ORDER_FIELDS, FIELD_LABELS),
            status=422,
        )
    session.commit()
    await workflow_calls.start(await temporal.get(), session, settings, made.order)
    return RedirectResponse(f"/print-orders/{made.order.id}", status_code=303)


@router.get("/print-orders/{print_order_id}", response_class=HTMLResponse)
def print_order_page(
    principal: PortalPrintOrderReader,
    request: Request,
    session: SessionDep,
    print_order_id: int,
) -> HTMLResponse:
    order = orders.load(session, principal, print_order_id)
    items = orders.timeline(session, order)
    reached = STEPS.index(order.state.value) if order.state.value in STEPS else -1
    return render(
        request,
        "print_order.html",
        title=gettext("Print order %(id)s", id=order.id),
        money=money,
        order=order,
        steps=STEPS,
        reached=reached,
        timeline=items,
        late=orders.late_steps(items),
        may_decide=orders.may_decide(session, principal, order),
        may_cancel=orders.may_cancel(principal, order),
        today=date.today(),
    )


@router.get("/print-orders/{print_order_id}/pdf", response_class=RedirectResponse)
def print_order_pdf_page(
    principal: PortalPrintOrderReader,
    session: SessionDep,
    store: BlobStoreDep,
    print_order_id: int,
) -> Response:
    """The print-ready PDF for a signed-in portal user: a redirect to a signed, expiring URL."""
    order = orders.load(session, principal, print_order_id)
    if not order.pdf_key:
        raise Conflict(said("print order %(id)s has no PDF yet", id=print_order_id))
    url = store.signed_url(
        order.pdf_key, expires_in=PDF_URL_SECONDS, filename=f"print-order-{order.id}.pdf"
    )
    return RedirectResponse(
        same_origin(store, url), status_code=303, headers={"Cache-Control": "no-store"}
    )


@router.post("/print-orders/{print_order_id}/decide", response_class=RedirectResponse)
async def decide_print_order_form(
    principal: PortalPrintOrderReader,
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    print_order_id: int,
) -> Response:
    order = orders.load(session, principal, print_order_id)
    identity = orders.decider(session, principal, order)
    if identity is None:
        raise Forbidden(said("You cannot decide this print order now"))
    posted = await request.form()
    choice = str(posted.get("decision", ""))
    if choice not in ("approve", "reject"):
        raise FieldError("decision", said("choose approve or reject"))
    action = ChainDecision(
        actor=actor_of(principal),
        decision=choice,
        comment=str(posted.get("comment", ""))[:2000] or None,
        on_behalf_of=actor_of(identity.principal) if identity.for_user else None,
    )
    session.commit()
    await chain_tasks.decide(await temporal.get(), order.workflow_id, action)
    return RedirectResponse(f"/print-orders/{print_order_id}", status_code=303)


@router.post("/print-orders/{print_order_id}/cancel", response_class=RedirectResponse)
async def cancel_print_order_form(
    principal: PortalPrintOrderCreator,
    session: SessionDep,
    temporal: TemporalDep,
    print_order_id: int,
) -> Response:
    order = orders.load(session, principal, print_order_id)
    if not orders.may_cancel(principal, order):
        raise Conflict(said("print order %(id)s can no longer be cancelled", id=print_order_id))
    cancel = PrintOrderCancel(user_id=principal.user_id)
    await workflow_calls.update(await temporal.get(), order, PrintOrderWorkflow.cancel, cancel)
    return RedirectResponse(f"/print-orders/{print_order_id}", status_code=303)
