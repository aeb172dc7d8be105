"""A print vendor simulator: a small HTTP service behaving like a web-to-print vendor's API, for
`make up` (Procfile) and the tests (a subprocess). Run it with
`uvicorn printing.simulator:create_app --factory --port 8010`.

The API:
- GET /v1/products: formats with quantity bands and unit prices (EUR minor units).
- POST /v1/quotes {product, quantity}: the price; a quantity outside the bands is 422 naming
  `quantity`.
- POST /v1/orders with an Idempotency-Key header and a JSON body (the PDF as `pdf_base64`,
  at most PRINT_PDF_MAX_BYTES): 201 and the order; the same key with the same body again: 200
  and the same order; the same key with another body: 409.
- GET /v1/orders/{id}; GET /v1/orders (every order: what the tests ask "how many orders?").
- After an order is taken it goes accepted -> printed -> shipped (tracking number) ->
  delivered (proof of delivery: signed_by, delivered_at; the invoice), one step every
  PRINT_SIM_STEP_SECONDS, each POSTed to the order's callback_url (else
  PRINT_SIM_CALLBACK_URL) with a unique event id, signed with PRINT_VENDOR_SECRET: header
  X-Print-Signature "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.' + body>". A callback that
  is not answered 2xx is retried a few times.
- Faults on demand, for the whole simulator through PUT /v1/_sim/faults or per request
  through headers: X-Sim-Delay (seconds before answering, after the order is recorded, like a
  vendor that took the order and answers late), X-Sim-Fail-First (answer 503 to the first N
  attempts of an idempotency key), X-Sim-Duplicate (send every callback twice),
  X-Sim-Refuse (refuse orders with 422: the artwork failed preflight).

State lives in memory: a restart forgets every order (the tests start one simulator per
session and ask it through GET /v1/orders).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from core.settings import Settings, get_settings
from printing.vendor import SIGNATURE_HEADER, signature_header

CURRENCY = "EUR"
PRODUCTS: dict[str, list[tuple[int, int, int]]] = {
    # format: (min, max, unit price in cents)
    "A4": [(50, 249, 45), (250, 999, 29), (1000, 5000, 21)],
    "A5": [(50, 249, 32), (250, 999, 19), (1000, 5000, 13)],
}
CALLBACK_ATTEMPTS = 5


class Faults(BaseModel):
    delay_seconds: float = Field(0.0, ge=0, le=600)
    fail_first: int = Field(0, ge=0, le=100)
    duplicate_callbacks: bool = False
    refuse_orders: bool = False
    step_seconds: float | None = Field(None, ge=0, le=3600)


class QuoteBody(BaseModel):
    product: str
    quantity: int


@dataclass
class SimOrder:
    id: str
    key: str
    body_sha256: str
    reference: str
    product: str
    quantity: int
    total_minor: int
    callback_url: str
    status: str = "received"
    tracking_number: str = ""
    proof_of_delivery: dict[str, Any] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "reference": self.reference,
            "product": self.product,
            "quantity": self.quantity,
            "total_minor": self.total_minor,
            "currency": CURRENCY,
            "tracking_number": self.tracking_number,
            "tracking_url": (
                f"https://track.example/{self.tracking_number}" if self.tracking_number else ""
            ),
            "proof_of_delivery": self.proof_of_delivery,
        }


def _problem(status: int, detail: str, field_name: str = "") -> JSONResponse:
    body: dict[str, Any] = {"title": "Refused", "status": status, "detail": detail}
    if field_name:
        body["errors"] = [{"field": field_name, "message": detail}]
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def price(product: str, quantity: int) -> tuple[int, int] | JSONResponse:
    """(unit, total) in minor units, or the 422 naming the field."""
    bands = PRODUCTS.get(product)
    if bands is None:
        return _problem(422, f"product must be one of {', '.join(PRODUCTS)}", "product")
    for low, high, unit in bands:
        if low <= quantity <= high:
            return unit, unit * quantity
    rule = ", ".join(f"{low}-{high}" for low, high, _ in bands)
    return _problem(422, f"quantity must be within a band of {product}: {rule}", "quantity")


class Simulator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.faults = Faults()
        self.orders: dict[str, SimOrder] = {}
        self.by_key: dict[str, SimOrder] = {}
        self.attempts: dict[str, int] = {}
        self.lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[None]] = set()

    def step_seconds(self) -> float:
        if self.faults.step_seconds is not None:
            return self.faults.step_seconds
        return self.settings.print_sim_step_seconds

    async def drive(self, order: SimOrder, duplicate: bool) -> None:
        """The order's life after it was taken, one callback per step."""
        for status in ("accepted", "printed", "shipped", "delivered"):
            await asyncio.sleep(self.step_seconds())
            order.status = status
            if status == "shipped":
                order.tracking_number = f"TRK{uuid.uuid4().hex[:10].upper()}"
            if status == "delivered":
                order.proof_of_delivery = {
                    "signed_by": "R. Receiver",
                    "delivered_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            event: dict[str, Any] = {
                "event_id": f"evt_{uuid.uuid4().hex}",
                "order_id": order.id,
                "reference": order.reference,
                "status": status,
                "occurred_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "order": order.view(),
            }
            if status == "delivered":
                event["invoice_minor"] = order.total_minor
                event["currency"] = CURRENCY
            order.events.append(event["event_id"])
            for _ in range(2 if duplicate else 1):
                await self.post_callback(order.callback_url, event)

    async def post_callback(self, url: str, event: dict[str, Any]) -> None:
        body = json.dumps(event).encode()
        secret = self.settings.print_vendor_secret.get_secret_value()
        async with httpx.AsyncClient(timeout=10) as http:
            for attempt in range(CALLBACK_ATTEMPTS):
                headers = {
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: signature_header(secret, int(time.time()), body),
                }
                try:
                    response = await http.post(url, content=body, headers=headers)
                    if response.status_code < 300:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(min(0.5 * 2**attempt, 10))


def create_app(settings: Settings | None = None) -> FastAPI:
    sim = Simulator(settings or get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        for task in list(sim.tasks):
            task.cancel()

    app = FastAPI(title="Print vendor simulator", lifespan=lifespan)
    app.state.simulator = sim

    @app.get("/v1/products")
    def products() -> dict[str, Any]:
        return {
            "products": [
                {
                    "format": name,
                    "currency": CURRENCY,
                    "bands": [
                        {"min_quantity": low, "max_quantity": high, "unit_minor": unit}
                        for low, high, unit in bands
                    ],
                }
                for name, bands in PRODUCTS.items()
            ]
        }

    @app.post("/v1/quotes", response_model=None)
    def quote(body: QuoteBody) -> dict[str, Any] | JSONResponse:
        found = price(body.product, body.quantity)
        if isinstance(found, JSONResponse):
            return found
        unit, total = found
        return {
            "product": body.product,
            "quantity": body.quantity,
            "unit_minor": unit,
            "total_minor": total,
            "currency": CURRENCY,
        }

    @app.post("/v1/orders", response_model=None)
    async def create_order(request: Request) -> JSONResponse:
        key = request.headers.get("idempotency-key", "")
        if not key:
            return _problem(400, "the Idempotency-Key header is required", "Idempotency-Key")
        faults = sim.faults
        fail_first = int(request.headers.get("x-sim-fail-first", faults.fail_first))
        delay = float(request.headers.get("x-sim-delay", faults.delay_seconds))
        duplicate = request.headers.get("x-sim-duplicate") == "1" or faults.duplicate_callbacks
        refuse = request.headers.get("x-sim-refuse") == "1" or faults.refuse_orders
        raw = await request.body()
        if len(raw) > sim.settings.print_pdf_max_bytes * 4 // 3 + 65536:
            return _problem(413, "the order is too large", "pdf_base64")
        async with sim.lock:
            sim.attempts[key] = sim.attempts.get(key, 0) + 1
            if sim.attempts[key] <= fail_first:
                return _problem(503, "the vendor is temporarily unavailable")
            digest = hashlib.sha256(raw).hexdigest()
            existing = sim.by_key.get(key)
            if existing is not None:
                if existing.body_sha256 != digest:
                    return _problem(409, "this Idempotency-Key was used for another order")
                replay: SimOrder | None = existing
            else:
                replay = None
                try:
                    data = json.loads(raw)
                    pdf = base64.b64decode(data["pdf_base64"], validate=True)
                    product, quantity = str(data["product"]), int(data["quantity"])
                except (ValueError, KeyError, TypeError, binascii.Error):
                    return _problem(400, "the body must be the order's JSON with pdf_base64")
                if not pdf.startswith(b"%PDF-"):
                    return _problem(422, "pdf_base64 is not a PDF", "pdf_base64")
                if refuse:
                    return _problem(422, "the artwork failed preflight", "pdf_base64")
                found = price(product, quantity)
                if isinstance(found, JSONResponse):
                    return found
                order = SimOrder(
                    id=f"ord_{uuid.uuid4().hex[:16]}",
                    key=key,
                    body_sha256=digest,
                    reference=str(data.get("reference", ""))[:80],
                    product=product,
                    quantity=quantity,
                    total_minor=found[1],
                    callback_url=str(data.get("callback_url") or "")
                    or sim.settings.print_sim_callback_url,
                )
                sim.orders[order.id] = order
                sim.by_key[key] = order
                task = asyncio.create_task(sim.drive(order, duplicate))
                sim.tasks.add(task)
                task.add_done_callback(sim.tasks.discard)
        if delay:
            await asyncio.sleep(delay)  # taken, but answering late
        if replay is not None:
            return JSONResponse(replay.view(), status_code=200)
        return JSONResponse(order.view(), status_code=201)

    @app.get("/v1/orders/{order_id}", response_model=None)
    def read_order(order_id: str) -> dict[str, Any] | JSONResponse:
        order = sim.orders.get(order_id)
        if order is None:
            return _problem(404, f"no order {order_id}")
        return order.view()

    @app.get("/v1/orders")
    def list_orders() -> dict[str, Any]:
        return {"orders": [o.view() for o in sim.orders.values()]}

    @app.put("/v1/_sim/faults")
    def set_faults(body: Faults) -> Faults:
        sim.faults = body
        return body

    return app
