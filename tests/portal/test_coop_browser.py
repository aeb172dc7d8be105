"""The co-op pages in headless Chromium on a 390 px phone: Amsterdam's GM reads the fund (its
buckets and ledger), a drafted claim (lines, evidence, the confirm button) and a shipped print
order (steps, tracking), and HQ's admin the pending claims and the co-op report, each without
sideways scrolling and without serious accessibility violations; screenshotted into
docs/screenshots/. No workflow runs: the pages only read."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from domain.money import PrintOrderState
from models.claim_io import ClaimStart
from models.funds import Fund
from services.claims import projection, starter
from storage.local import LocalBlobStore
from tests.claims.conftest import sent_campaign
from tests.portal.browser_app import read_in_english
from tests.portal.test_portal_browser import (
    CHROMEDRIVER,
    CHROMIUM,
    DESKTOP,
    PHONE,
    Browser,
    free_port,
    served,
)
from tests.print_orders.conftest import flyer_pc, order_row

GM = "gm.amsterdam@northwind.example"
ADMIN = "admin@northwind.example"


def _seed(demo: Engine, settings: Settings, store: LocalBlobStore) -> tuple[int, int, int]:
    """A fund with a sent campaign's spend booked, its drafted claim, and a shipped order."""
    booked = sent_campaign(demo)
    with Session(demo) as s:  # the co-op report lists the funds of the current quarter
        fund = s.get(Fund, booked.fund_id)
        assert fund is not None
        today = datetime.now(UTC).date()
        first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        fund.period = f"{first.year}-Q{(first.month + 2) // 3}"
        fund.starts_on = first
        fund.ends_on = (first + timedelta(days=95)).replace(day=1) - timedelta(days=1)
        s.add(fund)
        s.commit()
    with Session(demo) as s:
        created = starter.create(s, settings, store, ClaimStart(partner_campaign_id=booked.pc_id))
        assert created.claim is not None and created.claim.id is not None, created.reason
        claim_id = created.claim.id
        s.commit()
    with Session(demo) as s:
        projection.draft(s, settings, store, claim_id)
        s.commit()
    order = order_row(
        demo,
        flyer_pc(demo),
        state=PrintOrderState.shipped,
        vendor_order_id="SIM-000123",
        tracking_number="3SNWD0123456789",
        tracking_url="https://track.example/3SNWD0123456789",
    )
    return booked.fund_id, claim_id, order


def _phone_check(b: Browser, path: str, expect: str, name: str) -> None:
    b.go(path)
    b.wait(lambda: expect in b.text(), f"{path} shows {expect!r}")
    width = b.driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE[0], f"{path} is {width} px wide on a {PHONE[0]} px phone"
    b.axe(path)
    if name:
        b.screenshot(name)


def look(b: Browser, fund_id: int, claim_id: int, order_id: int) -> None:
    b.size(*PHONE)
    b.sign_in(GM)
    _phone_check(b, "/funds", "Co-op funds", "")
    _phone_check(b, f"/funds/{fund_id}", "Available", "coop-fund-390")
    _phone_check(b, f"/claims/{claim_id}", "Confirm", "coop-claim-390")
    _phone_check(b, f"/print-orders/{order_id}", "3SNWD0123456789", "print-order-390")
    b.sign_in(ADMIN)
    _phone_check(b, "/claims/pending", "claims", "")
    _phone_check(b, "/reports/coop", "Amsterdam", "")
    b.size(*DESKTOP)


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
async def test_coop_pages_on_a_phone(
    settings: Settings, demo: Engine, tmp_data: Path, blob_store: LocalBlobStore
) -> None:
    fund_id, claim_id, order_id = _seed(demo, settings, blob_store)
    read_in_english(demo, "%.amsterdam@%")  # Amsterdam reads Dutch elsewhere
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    local = settings.model_copy(update={"public_base_url": base})
    app = create_app(local, engine=demo, temporal=LazyTemporalClient(local), blob_store=blob_store)
    async with served(app, port):
        browser = await asyncio.to_thread(Browser, base)
        try:
            await asyncio.wait_for(
                asyncio.to_thread(look, browser, fund_id, claim_id, order_id), timeout=90
            )
        finally:
            await asyncio.to_thread(browser.quit)
