"""Print orders (web-to-print copies of an approved partner campaign) and the print vendor's
signed status callbacks. docs/funds.md ("Print orders") describes the flow."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from api.deps import BlobStoreDep, RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.routers.params import PagingDep, page_of
from api.security import PrintOrderCreator, PrintOrderReader, PublicRoute
from core.errors import Conflict, Forbidden, Problem
from core.policy import Permission, Principal, actor_of, has_permission_somewhere
from core.settings import Settings
from models.chain_io import ChainDecision
from models.print_order_io import PrintOrderCancel
from models.print_order_schemas import (
    CallbackAck,
    PrintOrderCancelBody,
    PrintOrderCreate,
    PrintOrderDecide,
    PrintOrderRead,
    PrintOrderSummary,
)
from models.print_orders import PrintOrder
from models.schemas import Page
from printing.vendor import SIGNATURE_HEADER, BadSignature, PrintVendor, verify_callback
from services.approvals import chain_tasks
from services.org import Actor
from services.print_orders import callbacks, orders, workflow_calls
from services.print_orders.vendors import vendor_for
from storage.redirects import same_origin
from workflows.print_order import PrintOrderWorkflow

router = APIRouter(prefix="/api/v1", tags=["print-orders"])
PDF_URL_SECONDS = 300


def print_vendor(request: Request, settings: Settings) -> PrintVendor:
    """The app's vendor (tests set app.state.print_vendor), else the configured one."""
    vendor: PrintVendor | None = getattr(request.app.state, "print_vendor", None)
    return vendor or vendor_for(settings)


def order_read(session: Session, principal: Principal, order: PrintOrder) -> PrintOrderRead:
    assert order.id is not None
    items = orders.timeline(session, order)
    return PrintOrderRead.model_validate(order, from_attributes=True).model_copy(
        update={
            "pdf_url": f"/api/v1/print-orders/{order.id}/pdf" if order.pdf_key else None,
            "timeline": items,
            "vendor_late": orders.late_steps(items),
            "may_decide": orders.may_decide(session, principal, order),
            "may_cancel": orders.may_cancel(principal, order),
        }
    )


@router.post(
    "/print-orders",
    response_model=PrintOrderRead,
    status_code=201,
    responses={200: {"model": PrintOrderRead, "description": "the Idempotency-Key was seen"}},
    summary="Order printed copies of an approved partner campaign (Idempotency-Key supported)",
)
async def create_print_order(
    principal: PrintOrderCreator,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    rid: RequestIdDep,
    request: Request,
    body: PrintOrderCreate,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(min_length=1, max_length=200, description="retries with the same key order once"),
    ] = None,
) -> PrintOrderRead:
    """Checked before anything is ordered: the campaign is approved (409 otherwise) and its
    template has a print variant in `format`, the quantity lies in one of the vendor's bands
    and the address can be shipped to (422 naming the field). The order then waits for its
    approval; GET it to follow it."""
    vendor = print_vendor(request, settings)
    # The vendor's bands are asked over HTTP: off the event loop.
    made = await run_in_threadpool(
        orders.create, session, Actor(principal, rid), body, vendor, idempotency_key
    )
    session.commit()
    if made.order.state == orders.S.quoted:  # a retry may find it started and long gone
        await workflow_calls.start(await temporal.get(), session, settings, made.order)
    if not made.created:
        response.status_code = 200
    return order_read(session, principal, made.order)


@router.get("/print-orders", response_model=Page[PrintOrderSummary], summary="List print orders")
def list_print_orders(
    principal: PrintOrderReader,
    session: SessionDep,
    paging: PagingDep,
    partner_campaign_id: Annotated[int | None, Query(ge=1)] = None,
    sort: str = orders.ORDERS.sort_query(),
) -> Page[PrintOrderSummary]:
    """The orders the caller may read: a partner's own, a region's, or the brand's."""
    result = orders.list_orders(session, principal, paging, sort, partner_campaign_id)
    return page_of(
        result,
        paging,
        (PrintOrderSummary.model_validate(o, from_attributes=True) for o in result.items),
    )


@router.get(
    "/print-orders/{print_order_id}",
    response_model=PrintOrderRead,
    summary="Read a print order with its timeline",
)
def read_print_order(
    principal: PrintOrderReader, session: SessionDep, print_order_id: int
) -> PrintOrderRead:
    """State, tracking, the PDF's link, the vendor's missed steps and the audit timeline."""
    return order_read(session, principal, orders.load(session, principal, print_order_id))


@router.post(
    "/print-orders/{print_order_id}/decide",
    response_model=PrintOrderRead,
    summary="Approve or reject a print order",
)
async def decide_print_order(
    principal: PrintOrderReader,
    session: SessionDep,
    temporal: TemporalDep,
    print_order_id: int,
    body: PrintOrderDecide,
) -> PrintOrderRead:
    """A vote in the approval chain the partner campaign pinned (the GM, HQ... as its stages
    say), as the caller or as the approver who delegated to them; never by the person who
    ordered. 409 when nothing waits."""
    order = orders.load(session, principal, print_order_id)
    if not has_permission_somewhere(principal, Permission.partner_campaign_decide):
        raise Forbidden("Your roles decide no approvals")
    task = orders.approval_task(session, order)
    if task is None:
        raise Conflict(f"print order {print_order_id} is {order.state.value}: nothing to decide")
    identity = chain_tasks.decider(session, principal, task)
    if identity is None:
        raise Forbidden(f"You may not decide the waiting stage of print order {print_order_id}")
    action = ChainDecision(
        actor=actor_of(principal),
        decision=body.decision,
        comment=body.comment or None,
        on_behalf_of=actor_of(identity.principal) if identity.for_user else None,
    )
    session.commit()  # no transaction held while the workflow decides
    await chain_tasks.decide(await temporal.get(), order.workflow_id, action)
    session.refresh(order)
    return order_read(session, principal, order)


@router.post(
    "/print-orders/{print_order_id}/cancel",
    response_model=PrintOrderRead,
    summary="Cancel a print order before it is submitted to the vendor",
)
async def cancel_print_order(
    principal: PrintOrderCreator,
    session: SessionDep,
    temporal: TemporalDep,
    print_order_id: int,
    body: PrintOrderCancelBody,
) -> PrintOrderRead:
    order = orders.load(session, principal, print_order_id)
    orders.require_create(principal, order)
    if order.state not in orders.BEFORE_SUBMISSION:
        raise Conflict(
            f"print order {print_order_id} is {order.state.value}: only an order not yet "
            "submitted to the vendor can be cancelled"
        )
    cancel = PrintOrderCancel(user_id=principal.user_id, comment=body.comment)
    await workflow_calls.update(await temporal.get(), order, PrintOrderWorkflow.cancel, cancel)
    session.refresh(order)
    return order_read(session, principal, order)


@router.get(
    "/print-orders/{print_order_id}/pdf",
    status_code=307,
    response_class=RedirectResponse,
    responses={307: {"description": "to a signed, expiring URL of the PDF", "content": {}}},
    summary="Download a print order's print-ready PDF",
)
def print_order_pdf(
    principal: PrintOrderReader, session: SessionDep, store: BlobStoreDep, print_order_id: int
) -> RedirectResponse:
    """The PDF as sent to the vendor (409 until it is made)."""
    order = orders.load(session, principal, print_order_id)
    if not order.pdf_key:
        raise Conflict(f"print order {print_order_id} has no PDF yet ({order.state.value})")
    url = store.signed_url(
        order.pdf_key, expires_in=PDF_URL_SECONDS, filename=f"print-order-{order.id}.pdf"
    )
    return RedirectResponse(
        same_origin(store, url), status_code=307, headers={"Cache-Control": "no-store"}
    )


@router.post(
    "/print-vendor/callbacks",
    response_model=CallbackAck,
    summary="Receive a print vendor's signed status callback",
    responses={403: {"description": "the callback is unsigned, forged or stale"}},
)
async def receive_print_vendor_callback(
    _: PublicRoute,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> CallbackAck:
    """Signed by the vendor (403 unsigned, forged or stale; 400 malformed). A repeated event
    id is acknowledged and ignored; a new one is recorded and signalled to the order's
    workflow. 503 when the workflow service is down: the vendor retries, nothing is kept."""
    body = await request.body()
    try:
        event = verify_callback(
            settings.print_vendor_secret.get_secret_value(),
            request.headers.get(SIGNATURE_HEADER),
            body,
            time.time(),
            settings.print_vendor_callback_tolerance,
        )
    except BadSignature as err:
        raise Forbidden(f"callback refused: {err}") from err
    except ValueError as err:
        raise Problem(f"callback body: {err}", status=400, title="Malformed callback") from err
    recorded = callbacks.record(session, settings.print_vendor_name, event)
    if recorded.duplicate:
        return CallbackAck(status="duplicate")
    if recorded.order is not None and recorded.order.workflow_id:
        await workflow_calls.signal_status(await temporal.get(), recorded.order, recorded.status)
    session.commit()
    return CallbackAck(status="accepted")
