"""The print vendor adapter: what Brandrelay asks of a vendor (products, quote, an order
submitted under an idempotency key, the order's status) and how its callbacks are trusted.

The HTTP implementation makes one attempt per call with a timeout; retries are Temporal's
(activity retry policies), so a refused order (4xx) is `VendorRefused`, never retried, and an
unavailable vendor (5xx, timeout, connection refused) is `VendorUnavailable`, retried.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import httpx

SIGNATURE_HEADER = "X-Print-Signature"  # "t=<unix seconds>,v1=<hex HMAC-SHA256>"
IDEMPOTENCY_HEADER = "Idempotency-Key"
STATUSES = ("accepted", "printed", "shipped", "delivered")


class VendorError(Exception):
    """Anything the vendor said or failed to say."""


class VendorRefused(VendorError):
    """The vendor answered 4xx: asking again changes nothing. `field` names the culprit."""

    def __init__(self, message: str, status: int, field: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.field = field


class VendorUnavailable(VendorError):
    """5xx, timeout or no connection: worth another attempt later."""


@dataclass(frozen=True)
class Band:
    min_quantity: int
    max_quantity: int
    unit_minor: int


@dataclass(frozen=True)
class Product:
    format: str
    currency: str
    bands: tuple[Band, ...]

    def band_for(self, quantity: int) -> Band | None:
        return next((b for b in self.bands if b.min_quantity <= quantity <= b.max_quantity), None)

    def quantity_rule(self) -> str:
        return ", ".join(f"{b.min_quantity}-{b.max_quantity}" for b in self.bands)


@dataclass(frozen=True)
class Quote:
    format: str
    quantity: int
    unit_minor: int
    total_minor: int
    currency: str


@dataclass(frozen=True)
class ShipTo:
    name: str
    street: str
    postal_code: str
    city: str
    country: str


@dataclass(frozen=True)
class OrderRequest:
    format: str
    quantity: int
    reference: str  # our order's vendor_key: shown on the vendor's side and in callbacks
    ship_to: ShipTo
    wanted_by: date
    pdf: bytes
    callback_url: str = ""


@dataclass(frozen=True)
class VendorOrder:
    id: str
    status: str
    reference: str
    total_minor: int
    currency: str
    tracking_number: str = ""
    tracking_url: str = ""
    proof_of_delivery: dict[str, Any] = field(default_factory=dict)
    replayed: bool = False  # the vendor answered an earlier submission under the same key


class PrintVendor(Protocol):
    name: str

    def products(self) -> list[Product]: ...

    def quote(self, format: str, quantity: int) -> Quote: ...

    def submit(self, idempotency_key: str, order: OrderRequest) -> VendorOrder: ...

    def get(self, order_id: str) -> VendorOrder: ...


def order_json(order: OrderRequest) -> dict[str, Any]:
    """The body of POST /v1/orders (the same bytes for the same order: idempotency compares)."""
    return {
        "product": order.format,
        "quantity": order.quantity,
        "reference": order.reference,
        "ship_to": {
            "name": order.ship_to.name,
            "street": order.ship_to.street,
            "postal_code": order.ship_to.postal_code,
            "city": order.ship_to.city,
            "country": order.ship_to.country,
        },
        "wanted_by": order.wanted_by.isoformat(),
        "pdf_base64": base64.b64encode(order.pdf).decode("ascii"),
        "callback_url": order.callback_url,
    }


def _order(data: dict[str, Any], replayed: bool = False) -> VendorOrder:
    return VendorOrder(
        id=str(data["id"]),
        status=str(data["status"]),
        reference=str(data.get("reference", "")),
        total_minor=int(data.get("total_minor", 0)),
        currency=str(data.get("currency", "")),
        tracking_number=str(data.get("tracking_number") or ""),
        tracking_url=str(data.get("tracking_url") or ""),
        proof_of_delivery=dict(data.get("proof_of_delivery") or {}),
        replayed=replayed,
    )


class HttpVendor:
    """A vendor speaking the simulator's API (printing/simulator.py documents it)."""

    def __init__(self, name: str, base_url: str, timeout: float = 30.0) -> None:
        self.name = name
        self._base = base_url.rstrip("/")
        self._timeout = timeout

    def _call(
        self, method: str, path: str, *, body: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        try:
            with httpx.Client(timeout=self._timeout) as http:
                response = http.request(method, self._base + path, json=body, headers=headers)
        except httpx.HTTPError as err:
            raise VendorUnavailable(f"{method} {path}: {type(err).__name__}: {err}") from err
        if response.status_code >= 500:
            raise VendorUnavailable(f"{method} {path}: the vendor answered {response.status_code}")
        if response.status_code >= 400:
            raise _refusal(response)
        return response

    def products(self) -> list[Product]:
        data = self._call("GET", "/v1/products").json()
        return [
            Product(
                format=str(p["format"]),
                currency=str(p["currency"]),
                bands=tuple(
                    Band(int(b["min_quantity"]), int(b["max_quantity"]), int(b["unit_minor"]))
                    for b in p["bands"]
                ),
            )
            for p in data["products"]
        ]

    def quote(self, format: str, quantity: int) -> Quote:
        data = self._call(
            "POST", "/v1/quotes", body={"product": format, "quantity": quantity}
        ).json()
        return Quote(
            format=format,
            quantity=quantity,
            unit_minor=int(data["unit_minor"]),
            total_minor=int(data["total_minor"]),
            currency=str(data["currency"]),
        )

    def submit(self, idempotency_key: str, order: OrderRequest) -> VendorOrder:
        response = self._call(
            "POST",
            "/v1/orders",
            body=order_json(order),
            headers={IDEMPOTENCY_HEADER: idempotency_key},
        )
        return _order(response.json(), replayed=response.status_code == 200)

    def get(self, order_id: str) -> VendorOrder:
        return _order(self._call("GET", f"/v1/orders/{order_id}").json())


def _refusal(response: httpx.Response) -> VendorRefused:
    try:
        data = response.json()
    except ValueError:
        data = {}
    detail = str(data.get("detail") or data.get("title") or response.text[:200])
    errors = data.get("errors") or []
    culprit = str(errors[0].get("field", "")) if errors and isinstance(errors[0], dict) else ""
    return VendorRefused(
        f"the vendor refused ({response.status_code}): {detail}", response.status_code, culprit
    )


# Signed callbacks --------------------------------------------------------------------------


class BadSignature(ValueError):
    """A callback without a valid, fresh signature: not from the vendor (or replayed late)."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


@dataclass(frozen=True)
class VendorEvent:
    event_id: str
    order_id: str
    reference: str
    status: str
    payload: dict[str, Any]


def verify_callback(
    secret: str, header: str | None, body: bytes, now: float, tolerance: int
) -> VendorEvent:
    """The callback's event when its signature is the vendor's and its timestamp within
    `tolerance` seconds of `now` (constant-time compare). A replay inside the tolerance has a
    valid signature: the event id, unique per vendor in the database, makes it a no-op.
    Raises BadSignature (403) or ValueError (a signed but malformed body: 400)."""
    if not header:
        raise BadSignature("the callback is not signed")
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        raise BadSignature("the signature has no timestamp") from None
    expected = signature(secret, timestamp, body)
    if not hmac.compare_digest(expected, parts.get("v1", "")):
        raise BadSignature("the signature does not match")
    if abs(now - timestamp) > tolerance:
        raise BadSignature("the signature's timestamp is too old or in the future")
    try:
        data = json.loads(body)
    except ValueError:
        raise ValueError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the body is not a JSON object")
    for key in ("event_id", "order_id", "status"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ValueError(f"{key} is missing")
    if data["status"] not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    return VendorEvent(
        event_id=data["event_id"][:120],
        order_id=data["order_id"][:80],
        reference=str(data.get("reference", ""))[:80],
        status=data["status"],
        payload=data,
    )
