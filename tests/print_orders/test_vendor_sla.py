"""The vendor's SLA on the time-skipping server: an order the vendor does not accept within
PRINT_VENDOR_ACCEPT_HOURS, nor ship by the wanted day, is flagged (audited, shown on the
order, the partner's GM and the brand's admins emailed) and keeps waiting for the vendor."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from models.outbox import OutboxMessage
from storage.local import LocalBlobStore
from tests.print_orders.conftest import (
    flyer_pc,
    order_body,
    running_stack,
    set_faults,
    wait_for_approval,
    wait_for_state,
)


async def test_a_vendor_that_misses_its_steps_is_flagged_and_still_awaited(
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    demo: Engine,
    checkpoint_store: LocalBlobStore,
    blob_store: LocalBlobStore,
    simulator: str,
    login: Callable[[str], dict[str, str]],
) -> None:
    set_faults(simulator, step_seconds=3600)  # the vendor takes the order and goes quiet
    pc_id = flyer_pc(demo)
    async with running_stack(
        workflow_env.client, settings, demo, checkpoint_store, blob_store, simulator
    ) as stack:
        made = await stack.http.post(
            "/api/v1/print-orders",
            json=order_body(pc_id),
            headers=login("editor.amsterdam@northwind.example"),
        )
        po = made.json()["id"]
        await wait_for_approval(demo, po)
        decided = await stack.http.post(
            f"/api/v1/print-orders/{po}/decide",
            json={"decision": "approve"},
            headers=login("gm.amsterdam@northwind.example"),
        )
        assert decided.status_code == 200, decided.text
        await wait_for_state(demo, po, {"ordered"})
        gm = login("gm.amsterdam@northwind.example")

        async def late() -> list[str]:
            read = await stack.http.get(f"/api/v1/print-orders/{po}", headers=gm)
            return list(read.json()["vendor_late"])

        assert await late() == []
        await workflow_env.sleep(timedelta(hours=25))
        for _ in range(100):
            if await late():
                break
            await workflow_env.sleep(timedelta(seconds=1))
        assert await late() == ["accepted"]
        with Session(demo) as s:
            mails = s.exec(
                select(OutboxMessage).where(
                    # Each in their language: Printopdracht (GM) or Print order (admin).
                    col(OutboxMessage.subject).contains(f"{po}: ")
                )
            ).all()
        told = {m.to for m in mails}
        assert any("gm.amsterdam@northwind.example" in t for t in told), told
        assert any("admin@northwind.example" in t for t in told), told
        assert not any("gm.berlin" in t or "contoso" in t for t in told), told
        await workflow_env.sleep(timedelta(days=15))  # past the wanted day (14 days out)
        for _ in range(100):
            if len(await late()) == 2:
                break
            await workflow_env.sleep(timedelta(seconds=1))
        assert await late() == ["accepted", "shipped"]
        order = await wait_for_state(demo, po, {"ordered"})
        assert order.state.value == "ordered"  # still waiting for the vendor
        with contextlib.suppress(Exception):
            await workflow_env.client.get_workflow_handle(f"print-order-{po}").terminate()
