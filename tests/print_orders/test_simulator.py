"""The vendor simulator through the adapter (printing.vendor.HttpVendor): bands, quotes,
idempotent orders, faults, and its signed callbacks as printing.vendor verifies them."""

from __future__ import annotations

import json
import time
from datetime import date

import httpx
import pytest

from core.settings import Settings
from printing.vendor import (
    SIGNATURE_HEADER,
    BadSignature,
    HttpVendor,
    OrderRequest,
    ShipTo,
    VendorRefused,
    VendorUnavailable,
    order_json,
    signature,
    verify_callback,
)
from tests.print_orders.conftest import Received, set_faults, vendor_orders

PDF = b"%PDF-1.7\n% a tiny stand-in for the print-ready file\n"


def request(reference: str, callback_url: str = "", quantity: int = 500) -> OrderRequest:
    return OrderRequest(
        format="A5",
        quantity=quantity,
        reference=reference,
        ship_to=ShipTo("Studio Amsterdam", "Damrak 1", "1012 LG", "Amsterdam", "NL"),
        wanted_by=date(2027, 1, 15),
        pdf=PDF,
        callback_url=callback_url,
    )


def test_products_have_bands_and_quotes_follow_them(simulator: str) -> None:
    vendor = HttpVendor("simulator", simulator)
    a5 = {p.format: p for p in vendor.products()}["A5"]
    band = a5.band_for(500)
    assert band is not None and band.unit_minor == 19
    assert a5.band_for(49) is None and a5.band_for(5001) is None
    quote = vendor.quote("A5", 500)
    assert (quote.unit_minor, quote.total_minor, quote.currency) == (19, 9500, "EUR")
    assert vendor.quote("A5", 1000).total_minor == 13000


def test_a_quantity_outside_the_bands_is_refused_naming_quantity(simulator: str) -> None:
    with pytest.raises(VendorRefused) as refused:
        HttpVendor("simulator", simulator).quote("A5", 20)
    assert refused.value.status == 422 and refused.value.field == "quantity"
    answer = httpx.post(f"{simulator}/v1/quotes", json={"product": "A3", "quantity": 100})
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "product"


def test_same_key_same_body_is_the_same_order_other_body_conflicts(simulator: str) -> None:
    vendor = HttpVendor("simulator", simulator)
    first = vendor.submit("key-idem-1", request("ref-idem-1"))
    again = vendor.submit("key-idem-1", request("ref-idem-1"))
    assert (first.replayed, again.replayed) == (False, True)
    assert again.id == first.id and first.total_minor == 9500
    with pytest.raises(VendorRefused) as conflict:
        vendor.submit("key-idem-1", request("ref-idem-1", quantity=600))
    assert conflict.value.status == 409
    assert len(vendor_orders(simulator, "ref-idem-1")) == 1
    assert vendor.get(first.id).reference == "ref-idem-1"


def test_orders_without_a_key_or_a_pdf_are_refused(simulator: str) -> None:
    body = order_json(request("ref-bad"))
    assert httpx.post(f"{simulator}/v1/orders", json=body).status_code == 400
    bad = {**body, "pdf_base64": "bm90IGEgcGRm"}  # "not a pdf"
    answer = httpx.post(f"{simulator}/v1/orders", json=bad, headers={"Idempotency-Key": "k-bad"})
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "pdf_base64"
    assert vendor_orders(simulator, "ref-bad") == []


def test_the_first_attempts_fail_then_the_order_is_taken_once(simulator: str) -> None:
    set_faults(simulator, fail_first=2)
    vendor = HttpVendor("simulator", simulator)
    for _ in range(2):
        with pytest.raises(VendorUnavailable):
            vendor.submit("key-flaky", request("ref-flaky"))
    assert vendor_orders(simulator, "ref-flaky") == []
    assert vendor.submit("key-flaky", request("ref-flaky")).replayed is False
    assert len(vendor_orders(simulator, "ref-flaky")) == 1


def test_a_slow_answer_times_out_but_the_order_was_taken(simulator: str) -> None:
    """What a killed or impatient client sees: no answer, yet the vendor has the order; the
    retry under the same key gets that order, not a second one."""
    set_faults(simulator, delay_seconds=2)
    with pytest.raises(VendorUnavailable):
        HttpVendor("simulator", simulator, timeout=0.5).submit("key-slow", request("ref-slow"))
    set_faults(simulator)
    again = HttpVendor("simulator", simulator).submit("key-slow", request("ref-slow"))
    assert again.replayed is True
    assert len(vendor_orders(simulator, "ref-slow")) == 1


def test_a_refused_order_is_a_refusal_not_an_outage(simulator: str) -> None:
    set_faults(simulator, refuse_orders=True)
    with pytest.raises(VendorRefused) as refused:
        HttpVendor("simulator", simulator).submit("key-refused", request("ref-refused"))
    assert "preflight" in str(refused.value)


def test_callbacks_are_signed_unique_and_walk_every_step(
    simulator: str, receiver: Received, settings: Settings
) -> None:
    secret = settings.print_vendor_secret.get_secret_value()
    order = HttpVendor("simulator", simulator).submit("key-cb", request("ref-cb", receiver.url))
    receiver.wait_for(4)
    events = [
        verify_callback(secret, headers[SIGNATURE_HEADER.lower()], body, time.time(), 300)
        for headers, body in receiver.posts
    ]
    assert [e.status for e in events] == ["accepted", "printed", "shipped", "delivered"]
    assert {e.order_id for e in events} == {order.id}
    assert len({e.event_id for e in events}) == 4
    shipped, delivered = events[2].payload, events[3].payload
    assert shipped["order"]["tracking_number"].startswith("TRK")
    assert delivered["invoice_minor"] == 9500
    assert set(delivered["order"]["proof_of_delivery"]) == {"signed_by", "delivered_at"}


def test_duplicate_callbacks_repeat_the_event_id(simulator: str, receiver: Received) -> None:
    set_faults(simulator, duplicate_callbacks=True)
    HttpVendor("simulator", simulator).submit("key-dup", request("ref-dup", receiver.url))
    receiver.wait_for(8)
    ids = [json.loads(body)["event_id"] for _, body in receiver.posts]
    assert len(ids) == 8 and len(set(ids)) == 4


def test_forged_stale_and_malformed_callbacks_are_refused() -> None:
    body = json.dumps({"event_id": "e1", "order_id": "o1", "status": "accepted"}).encode()
    now = 1_800_000_000
    good = f"t={now},v1={signature('s3cret', now, body)}"
    assert verify_callback("s3cret", good, body, now, 300).event_id == "e1"
    with pytest.raises(BadSignature):
        verify_callback("s3cret", None, body, now, 300)
    with pytest.raises(BadSignature):
        verify_callback("other", good, body, now, 300)
    with pytest.raises(BadSignature):
        verify_callback("s3cret", good, body + b" ", now, 300)
    with pytest.raises(BadSignature):
        verify_callback("s3cret", good, body, now + 301, 300)
    with pytest.raises(BadSignature):
        verify_callback("s3cret", "v1=abc", body, now, 300)
    bad = json.dumps({"event_id": "e1", "order_id": "o1", "status": "lost"}).encode()
    sig = signature("s3cret", now, bad)
    with pytest.raises(ValueError, match="status"):
        verify_callback("s3cret", f"t={now},v1={sig}", bad, now, 300)
