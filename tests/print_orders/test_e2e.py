"""A print order end to end on the dev server with the vendor simulator: ordered by the
Amsterdam editor, approved by its GM, the PDF made on the documents queue, submitted under its
idempotency key, driven by the simulator's signed callbacks (over real HTTP, duplicates
included) to delivered; the co-op money reserved, booked and released; the claim started."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from domain.money import LedgerKind
from models.funds import FundLedgerEntry
from models.print_orders import PrintVendorCallback
from printing.vendor import SIGNATURE_HEADER, signature_header
from services import audit
from services.funds import ledger
from storage.local import LocalBlobStore
from tests.print_orders.conftest import (
    flyer_pc,
    fund_for,
    order_body,
    running_stack,
    save_history,
    set_faults,
    vendor_orders,
    wait_for_approval,
    wait_for_state,
)

pytestmark = pytest.mark.e2e

EDITOR = "editor.amsterdam@northwind.example"
GM = "gm.amsterdam@northwind.example"


async def test_an_order_goes_from_quote_to_delivered_and_books_its_spend(
    request: pytest.FixtureRequest,
    dev_env: WorkflowEnvironment,
    settings: Settings,
    demo: Engine,
    checkpoint_store: LocalBlobStore,
    blob_store: LocalBlobStore,
    simulator: str,
    login: Callable[[str], dict[str, str]],
) -> None:
    pc_id = flyer_pc(demo)
    fund_id = fund_for(demo, "amsterdam", 100_000)
    set_faults(simulator, duplicate_callbacks=True)
    async with running_stack(
        dev_env.client, settings, demo, checkpoint_store, blob_store, simulator
    ) as stack:
        created = await stack.http.post(
            "/api/v1/print-orders",
            json=order_body(pc_id),
            headers={**login(EDITOR), "Idempotency-Key": "flyers-1"},
        )
        assert created.status_code == 201, created.text
        order = created.json()
        assert (order["state"], order["quote_minor"], order["currency"]) == ("quoted", 9500, "EUR")
        again = await stack.http.post(
            "/api/v1/print-orders",
            json=order_body(pc_id),
            headers={**login(EDITOR), "Idempotency-Key": "flyers-1"},
        )
        assert again.status_code == 200 and again.json()["id"] == order["id"]

        await wait_for_approval(demo, order["id"])
        own = await stack.http.post(
            f"/api/v1/print-orders/{order['id']}/decide",
            json={"decision": "approve"},
            headers=login(EDITOR),
        )
        assert own.status_code == 403, own.text
        page = await stack.http.get(f"/api/v1/print-orders/{order['id']}", headers=login(GM))
        assert page.json()["may_decide"] is True
        decided = await stack.http.post(
            f"/api/v1/print-orders/{order['id']}/decide",
            json={"decision": "approve", "comment": "go"},
            headers=login(GM),
        )
        assert decided.status_code == 200, decided.text
        late_cancel_allowed = decided.json()["state"] in {"approved", "pending_approval"}

        done = await wait_for_state(demo, order["id"], {"delivered", "failed"})
        assert done.state.value == "delivered", done.error
        assert done.tracking_number.startswith("TRK")
        assert set(done.proof_of_delivery) == {"signed_by", "delivered_at"}
        assert done.invoice_minor == 9500 and len(done.pdf_sha256) == 64
        assert len(vendor_orders(simulator, done.vendor_key)) == 1

        read = (
            await stack.http.get(f"/api/v1/print-orders/{order['id']}", headers=login(EDITOR))
        ).json()
        actions = [t["action"] for t in read["timeline"]]
        for action in (
            "print_order.created",
            "print_order.quoted",
            "print_order.approved",
            "print_order.submitting",
            "print_order.ordered",
            "print_order.vendor_accepted",
            "print_order.vendor_shipped",
            "print_order.vendor_delivered",
        ):
            assert action in actions, (action, actions)
        assert read["pdf_url"] == f"/api/v1/print-orders/{order['id']}/pdf"
        pdf = await stack.http.get(read["pdf_url"], headers=login(EDITOR))
        assert pdf.status_code == 307
        cancel = await stack.http.post(
            f"/api/v1/print-orders/{order['id']}/cancel", json={}, headers=login(EDITOR)
        )
        assert cancel.status_code == 409

        # The vendor repeated every callback: each event was recorded once.
        with Session(demo) as s:
            rows = s.exec(
                select(PrintVendorCallback).where(PrintVendorCallback.print_order_id == order["id"])
            ).all()
        assert sorted(r.status for r in rows) == ["accepted", "delivered", "printed", "shipped"]

        # A replay of a recorded event, correctly signed: acknowledged, nothing changes.
        body = json.dumps(rows[0].payload).encode()
        secret = stack.settings.print_vendor_secret.get_secret_value()
        replay = await stack.http.post(
            "/api/v1/print-vendor/callbacks",
            content=body,
            headers={SIGNATURE_HEADER: signature_header(secret, int(time.time()), body)},
        )
        assert replay.json() == {"status": "duplicate"}

        for _ in range(100):
            if stack.claims:
                break
            await asyncio.sleep(0.1)
        assert stack.claims == [order["id"]]
        await save_history(request, dev_env.client, done.workflow_id, "print_order_delivered")
    assert late_cancel_allowed

    with Session(demo) as s:
        kinds = {
            e.key: (e.kind, e.amount_minor, e.gross_minor)
            for e in s.exec(
                select(FundLedgerEntry)
                .where(FundLedgerEntry.fund_id == fund_id)
                .order_by(col(FundLedgerEntry.id))
            )
        }
        money = ledger.balance(s, fund_id)
        assert audit.verify_chain(s, done.brand_id).ok
    po = order["id"]
    assert kinds[f"reserve-po-{po}"] == (LedgerKind.reservation, -4750, 9500)
    assert kinds[f"spend-po-{po}"] == (LedgerKind.spend, -4750, 9500)
    assert kinds[f"booked-po-{po}"][:2] == (LedgerKind.release, 4750)
    assert (money.allocated, money.reserved, money.spent, money.available) == (
        100_000,
        0,
        4750,
        95_250,
    )


async def test_a_refused_order_fails_with_the_vendors_reason_and_releases_the_money(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    demo: Engine,
    checkpoint_store: LocalBlobStore,
    blob_store: LocalBlobStore,
    simulator: str,
    login: Callable[[str], dict[str, str]],
) -> None:
    pc_id = flyer_pc(demo)
    fund_id = fund_for(demo, "amsterdam", 100_000)
    set_faults(simulator, refuse_orders=True)
    async with running_stack(
        dev_env.client, settings, demo, checkpoint_store, blob_store, simulator
    ) as stack:
        created = await stack.http.post(
            "/api/v1/print-orders", json=order_body(pc_id), headers=login(EDITOR)
        )
        assert created.status_code == 201, created.text
        po = created.json()["id"]
        await wait_for_approval(demo, po)
        decided = await stack.http.post(
            f"/api/v1/print-orders/{po}/decide", json={"decision": "approve"}, headers=login(GM)
        )
        assert decided.status_code == 200, decided.text
        failed = await wait_for_state(demo, po, {"failed", "delivered"})
        read = (await stack.http.get(f"/api/v1/print-orders/{po}", headers=login(GM))).json()
    assert failed.state.value == "failed" and "preflight" in failed.error
    assert read["state"] == "failed" and "preflight" in read["error"]
    with Session(demo) as s:
        assert ledger.balance(s, fund_id).reserved == 0
        keys = set(
            s.exec(select(FundLedgerEntry.key).where(FundLedgerEntry.fund_id == fund_id)).all()
        )
    assert {f"reserve-po-{po}", f"release-po-{po}"} <= keys


async def test_a_rejected_or_cancelled_order_reserves_nothing(
    request: pytest.FixtureRequest,
    dev_env: WorkflowEnvironment,
    settings: Settings,
    demo: Engine,
    checkpoint_store: LocalBlobStore,
    blob_store: LocalBlobStore,
    simulator: str,
    login: Callable[[str], dict[str, str]],
) -> None:
    pc_id = flyer_pc(demo)
    fund_id = fund_for(demo, "amsterdam", 100_000)
    async with running_stack(
        dev_env.client, settings, demo, checkpoint_store, blob_store, simulator
    ) as stack:
        ids = []
        for key in ("reject-me", "cancel-me"):
            made = await stack.http.post(
                "/api/v1/print-orders",
                json=order_body(pc_id),
                headers={**login(EDITOR), "Idempotency-Key": key},
            )
            ids.append(made.json()["id"])
        for po in ids:
            await wait_for_approval(demo, po)
        rejected = await stack.http.post(
            f"/api/v1/print-orders/{ids[0]}/decide",
            json={"decision": "reject", "comment": "too many"},
            headers=login(GM),
        )
        assert rejected.status_code == 200, rejected.text
        cancelled = await stack.http.post(
            f"/api/v1/print-orders/{ids[1]}/cancel", json={"comment": "oops"}, headers=login(EDITOR)
        )
        assert cancelled.status_code == 200, cancelled.text
        await wait_for_state(demo, ids[0], {"rejected"})
        await wait_for_state(demo, ids[1], {"cancelled"})
        await save_history(request, dev_env.client, f"print-order-{ids[0]}", "print_order_rejected")
        await save_history(
            request, dev_env.client, f"print-order-{ids[1]}", "print_order_cancelled"
        )
        twice = await stack.http.post(
            f"/api/v1/print-orders/{ids[0]}/decide", json={"decision": "approve"}, headers=login(GM)
        )
        assert twice.status_code == 409
    with Session(demo) as s:
        assert ledger.balance(s, fund_id).reserved == 0
        assert vendor_orders(stack.simulator, "") == []
