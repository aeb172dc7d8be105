"""The print orders API without workflows: what a create refuses (naming the field), tenant
scope (another partner's or brand's order is 404), and the vendor callback route's checks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.errors import FieldError
from core.settings import Settings
from models.org import User
from models.print_order_schemas import PrintOrderCreate
from models.print_orders import PrintOrder, PrintVendorCallback
from printing.vendor import SIGNATURE_HEADER, HttpVendor, signature_header
from services.accounts import principal_for
from services.org import Actor
from services.print_orders import orders
from tests.print_orders.conftest import flyer_pc, order_body, order_row

EDITOR = "editor.amsterdam@northwind.example"
CALLBACKS = "/api/v1/print-vendor/callbacks"


@pytest.fixture
def api(client: TestClient, simulator: str) -> Iterator[TestClient]:
    client.app.state.print_vendor = HttpVendor("simulator", simulator)  # type: ignore[attr-defined]
    yield client


def _refused(api: TestClient, headers: dict[str, str], body: dict[str, object]) -> tuple[int, str]:
    resp = api.post("/api/v1/print-orders", json=body, headers=headers)
    data = resp.json()
    field = (data.get("errors") or [{}])[0].get("field", "")
    return resp.status_code, field


def test_a_create_names_what_is_wrong(
    api: TestClient, demo: Engine, login: Callable[[str], dict[str, str]]
) -> None:
    headers = login(EDITOR)
    pc = flyer_pc(demo)
    cases = {
        "quantity": order_body(pc, quantity=20),
        "country": order_body(pc, country="XX"),
        "postal_code": order_body(pc, postal_code="12345"),  # not a Dutch postal code
        "wanted_by": order_body(pc, wanted_by=datetime.now(UTC).date().isoformat()),
        "format": order_body(pc, format="A4"),  # the flyer prints A5 only
        "street": order_body(pc, street="Damrak 1\r\nX-Injected: 1"),
    }
    for field, body in cases.items():
        status, named = _refused(api, headers, body)
        assert (status, named) == (422, field), (field, status, named)
    de = order_body(pc, country="DE", postal_code="1012")
    assert _refused(api, headers, de) == (422, "postal_code")
    be = order_body(pc, country="be", postal_code="1000")
    assert _refused(api, headers, {**be, "quantity": 6000}) == (422, "quantity")
    email_only = flyer_pc(demo, template="Open day")
    assert _refused(api, headers, order_body(email_only)) == (422, "partner_campaign_id")
    with Session(demo) as s:
        assert s.exec(select(PrintOrder)).all() == []


def test_only_an_approved_campaign_is_ordered_and_only_by_its_partner(
    api: TestClient, demo: Engine, login: Callable[[str], dict[str, str]]
) -> None:
    drafting = flyer_pc(demo, state="drafting")
    assert _refused(api, login(EDITOR), order_body(drafting))[0] == 409
    approved = flyer_pc(demo)
    for other in ("editor.berlin@northwind.example", "admin@contoso.example"):
        status, _ = _refused(api, login(other), order_body(approved))
        assert status == 404, other
    assert _refused(api, login("ops@northwind.example"), order_body(approved))[0] == 403


def test_orders_are_scoped_to_their_partner_region_and_brand(
    api: TestClient, demo: Engine, login: Callable[[str], dict[str, str]]
) -> None:
    ams = order_row(demo, flyer_pc(demo))
    ber = order_row(demo, flyer_pc(demo, "berlin"))

    def listed(email: str) -> set[int]:
        resp = api.get("/api/v1/print-orders", headers=login(email))
        assert resp.status_code == 200, resp.text
        return {o["id"] for o in resp.json()["items"]}

    assert listed(EDITOR) == {ams}
    assert listed("gm.berlin@northwind.example") == {ber}
    assert listed("north@northwind.example") == {ams, ber}
    assert listed("south@northwind.example") == set()
    assert listed("admin@contoso.example") == set()
    for email in ("gm.berlin@northwind.example", "admin@contoso.example"):
        for path in ("", "/pdf"):
            resp = api.get(f"/api/v1/print-orders/{ams}{path}", headers=login(email))
            assert resp.status_code == 404, (email, path)
        for action, body in (("decide", {"decision": "approve"}), ("cancel", {})):
            resp = api.post(f"/api/v1/print-orders/{ams}/{action}", json=body, headers=login(email))
            assert resp.status_code == 404, (email, action, resp.status_code)
    missing = api.get("/api/v1/print-orders/999999", headers=login(EDITOR)).json()
    foreign = api.get(f"/api/v1/print-orders/{ber}", headers=login(EDITOR)).json()
    assert missing.keys() == foreign.keys() and foreign["status"] == 404
    read = api.get(f"/api/v1/print-orders/{ams}", headers=login(EDITOR)).json()
    assert read["recipient_name"] == "<script>alert('name')</script>"  # data, as given
    assert read["may_decide"] is False and read["pdf_url"] is None
    assert api.get(f"/api/v1/print-orders/{ams}/pdf", headers=login(EDITOR)).status_code == 409


def _signed(
    settings: Settings, event: dict[str, Any], at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    secret = settings.print_vendor_secret.get_secret_value()
    stamp = int(at if at is not None else time.time())
    return body, {SIGNATURE_HEADER: signature_header(secret, stamp, body)}


def test_callbacks_must_be_signed_fresh_and_well_formed(
    api: TestClient, demo: Engine, settings: Settings
) -> None:
    order_id = order_row(demo, flyer_pc(demo), vendor_order_id="ord_known")
    event = {
        "event_id": "evt_1",
        "order_id": "ord_known",
        "reference": "",
        "status": "accepted",
    }
    body, headers = _signed(settings, event)
    assert api.post(CALLBACKS, content=body).status_code == 403  # unsigned
    forged = {SIGNATURE_HEADER: signature_header("not-the-secret", int(time.time()), body)}
    assert api.post(CALLBACKS, content=body, headers=forged).status_code == 403
    stale_body, stale = _signed(settings, event, at=time.time() - 3600)
    assert api.post(CALLBACKS, content=stale_body, headers=stale).status_code == 403
    tampered = body.replace(b"accepted", b"delivered")
    assert api.post(CALLBACKS, content=tampered, headers=headers).status_code == 403
    for bad in (b"[1, 2]", b"not json", json.dumps({**event, "status": "lost"}).encode()):
        bad_headers = {
            SIGNATURE_HEADER: signature_header(
                settings.print_vendor_secret.get_secret_value(), int(time.time()), bad
            )
        }
        resp = api.post(CALLBACKS, content=bad, headers=bad_headers)
        assert resp.status_code == 400, (bad, resp.text)
    with Session(demo) as s:
        assert s.exec(select(PrintVendorCallback)).all() == []
    # The order has no workflow here: the event is recorded, a replay is a duplicate.
    first = api.post(CALLBACKS, content=body, headers=headers)
    assert first.json() == {"status": "accepted"}
    again = api.post(CALLBACKS, content=body, headers=headers)
    assert again.json() == {"status": "duplicate"}
    with Session(demo) as s:
        rows = s.exec(select(PrintVendorCallback)).all()
    assert [(r.event_id, r.print_order_id) for r in rows] == [("evt_1", order_id)]


def test_parallel_creates_with_one_key_make_one_order_and_another_order_is_refused(
    demo: Engine, simulator: str
) -> None:
    """Four requests racing with one Idempotency-Key: one order, every answer names it; the
    key reused for other copies is a 422 naming the key, and nothing more is ordered."""
    pc = flyer_pc(demo)
    vendor = HttpVendor("simulator", simulator)
    with Session(demo) as s:
        user = s.exec(select(User).where(User.email == EDITOR)).one()
        principal = principal_for(s, user)
    barrier = threading.Barrier(4)

    def create(i: int, body: dict[str, Any]) -> int:
        barrier.wait()
        with Session(demo) as s:
            made = orders.create(
                s, Actor(principal, f"race-{i}"), PrintOrderCreate(**body), vendor, "race-1"
            )
            s.commit()
            assert made.order.id is not None
            return made.order.id

    with ThreadPoolExecutor(4) as pool:
        ids = set(pool.map(lambda i: create(i, order_body(pc)), range(4)))
    assert len(ids) == 1
    barrier = threading.Barrier(1)
    with pytest.raises(FieldError) as refused:
        create(9, order_body(pc, quantity=750))
    assert refused.value.errors[0]["field"] == "Idempotency-Key"
    with Session(demo) as s:
        assert [o.id for o in s.exec(select(PrintOrder)).all()] == list(ids)
