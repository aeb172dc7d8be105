"""The PrintOrderWorkflow's side effects: the quote, projections with their audit events, the
co-op money, the print-ready PDF (documents queue) and the vendor submission.

Sync activities (the worker's thread pool): the vendor's HTTP calls and WeasyPrint block. A
vendor that refuses (4xx) or a PDF that cannot be made is a result with `error` (the order
fails, nothing is retried); a vendor that is unavailable raises, and Temporal retries.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity

from core.settings import Settings
from mail.transport import MessageSender
from models.print_order_io import (
    PdfResult,
    PrintMoney,
    PrintProjection,
    QuoteResult,
    SubmitResult,
    VendorLate,
)
from models.print_orders import PrintOrder
from printing.vendor import (
    OrderRequest,
    PrintVendor,
    ShipTo,
    VendorRefused,
)
from services import audit
from services.print_orders import money, projection
from services.print_orders.documents import PdfRefused, make_pdf
from services.print_orders.late_notice import send_late_notice
from services.print_orders.orders import LATE_ACTION
from services.print_orders.vendors import vendor_for
from storage.base import BlobStore

CALLBACK_PATH = "/api/v1/print-vendor/callbacks"


class PrintOrderActivities:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        store: BlobStore,
        transport: MessageSender,
        vendor: Callable[[], PrintVendor] | None = None,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._store = store
        self._transport = transport
        self._vendor = vendor or (lambda: vendor_for(settings))

    def _order(self, session: Session, order_id: int) -> PrintOrder:
        order = session.get(PrintOrder, order_id)
        if order is None:
            raise LookupError(f"print order {order_id} does not exist")
        return order

    @activity.defn(name="project_print_order")
    def project_print_order(self, p: PrintProjection) -> None:
        info = activity.info()
        projection.project(self._engine, p, info.workflow_id or "", info.workflow_run_id or "")

    @activity.defn(name="quote_print_order")
    def quote_print_order(self, order_id: int) -> QuoteResult:
        with Session(self._engine) as session:
            order = self._order(session, order_id)
            fmt, quantity = order.format, order.quantity
        try:
            quote = self._vendor().quote(fmt, quantity)
        except VendorRefused as err:
            return QuoteResult(total_minor=0, currency="", error=str(err))
        return QuoteResult(total_minor=quote.total_minor, currency=quote.currency)

    @activity.defn(name="print_order_money")
    def print_order_money(self, inp: PrintMoney) -> int:
        """Reserve, release or book the spend: idempotent by the ledger's keys."""
        info = activity.info()
        actor = f"workflow:{info.workflow_id}"
        with Session(self._engine, expire_on_commit=False) as session:
            audit.begin_write(session)
            order = self._order(session, inp.print_order_id)
            if inp.action == "reserve":
                moved = money.reserve(session, order, actor)
            elif inp.action == "book":
                moved = money.book_spend(session, order, actor)
            else:
                moved = money.release(session, order, actor)
            session.commit()
        return moved

    @activity.defn(name="make_print_pdf")
    def make_print_pdf(self, order_id: int) -> PdfResult:
        with Session(self._engine) as session:
            order = self._order(session, order_id)
            try:
                made = make_pdf(session, self._settings, self._store, order)
            except PdfRefused as err:
                return PdfResult(error=str(err))
        return PdfResult(key=made.key, sha256=made.sha256)

    @activity.defn(name="submit_print_order")
    def submit_print_order(self, order_id: int) -> SubmitResult:
        """POST the order under its vendor_key: a retry after a kill, a timeout or a 5xx gets
        the vendor's first order back, never a second one."""
        activity.heartbeat()
        with Session(self._engine) as session:
            order = self._order(session, order_id)
            request = OrderRequest(
                format=order.format,
                quantity=order.quantity,
                reference=order.vendor_key,
                ship_to=ShipTo(
                    order.recipient_name, order.street, order.postal_code, order.city, order.country
                ),
                wanted_by=order.wanted_by,
                pdf=self._store.get(order.pdf_key),
                callback_url=self._settings.public_base_url.rstrip("/") + CALLBACK_PATH,
            )
            key = order.vendor_key
        try:
            placed = self._vendor().submit(key, request)
        except VendorRefused as err:
            return SubmitResult(error=str(err))
        return SubmitResult(vendor_order_id=placed.id, total_minor=placed.total_minor)

    @activity.defn(name="print_vendor_late")
    def print_vendor_late(self, late: VendorLate) -> None:
        """The vendor missed a step: audited (the order's page shows it), then the partner's
        GM and the brand's admins are emailed (once each)."""
        info = activity.info()
        key = projection.event_key(info.workflow_id or "", f"late-{late.missed}")

        def write(session: Session) -> None:
            order = self._order(session, late.print_order_id)
            audit.append_in(
                session,
                audit.NewEvent(
                    brand_id=order.brand_id,
                    region_id=order.region_id,
                    partner_id=order.partner_id,
                    actor=f"workflow:{info.workflow_id}",
                    action=LATE_ACTION,
                    entity_type="print_order",
                    entity_id=str(order.id),
                    event_key=key,
                    after={"missed": late.missed, "due": late.due, "vendor": order.vendor},
                    comment=late.missed,
                    workflow_id=info.workflow_id,
                    run_id=info.workflow_run_id,
                ),
            )

        projection.with_audit_retries(self._engine, key, write)
        send_late_notice(
            self._engine,
            self._settings,
            self._transport,
            late.print_order_id,
            late.missed,
            late.due,
            info.workflow_id or "",
        )
