"""The catalogue end to end in headless Chromium on the Temporal dev server with the real
worker: marketing@ publishes an item from the management page; editor.hamburg@ orders it on
a 390 px phone, follows the confirmation to the new campaign's form, personalises and
submits it; it reaches gm.hamburg@'s inbox and no other GM's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from models.campaigns import PartnerCampaign
from models.catalogue import CatalogueItem, CatalogueOrder
from tests.portal.browser_app import portal_with_queues, read_in_english
from tests.portal.test_portal_browser import (
    CHROMEDRIVER,
    CHROMIUM,
    DESKTOP,
    PHONE,
    Browser,
    served,
    worker,
)

pytestmark = pytest.mark.e2e


def publish(b: Browser, engine: Engine, title: str) -> int:
    """HQ's marketer creates and publishes the item from the management page."""
    b.sign_in("marketing@northwind.example")
    b.go("/catalogue/manage")
    b.css("#title").send_keys(title)
    b.css("#description").send_keys("Invite your members' friends for a free day at the club.")
    b.css("#budget_hint").send_keys("250.00")
    b.click("button[name=publish]")
    b.wait(lambda: title in b.text(), "the new item in the list")
    b.axe("catalogue management")
    b.screenshot("catalogue-manage")
    with Session(engine) as s:
        item = s.exec(select(CatalogueItem).where(CatalogueItem.title == title)).one()
        assert item.state == "published" and item.budget_hint_minor == 25000
        assert item.id is not None
        return item.id


def order_on_a_phone(b: Browser, engine: Engine, item_id: int, title: str) -> int:
    """The Hamburg editor orders, personalises and submits; returns the partner campaign."""
    b.size(*PHONE)
    b.sign_in("editor.hamburg@northwind.example")
    b.go("/catalogue")
    card = b.css(f"#item-{item_id}")
    assert title in card.text and "EUR 250.00" in card.text
    width = b.driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE[0], f"the page is {width} px wide on a {PHONE[0]} px phone"
    b.axe("catalogue on a phone")
    b.screenshot("catalogue-390")
    b.click(f"#item-{item_id} button[type=submit]")
    b.wait(lambda: "Ordered:" in b.text(), "the confirmation")
    assert "ready to personalise" in b.text()
    b.axe("order confirmation")
    b.screenshot("catalogue-ordered-390")
    with Session(engine) as s:
        order = s.exec(select(CatalogueOrder).where(CatalogueOrder.item_id == item_id)).one()
        row = s.exec(
            select(PartnerCampaign).where(PartnerCampaign.campaign_id == order.campaign_id)
        ).one()
        assert row.id is not None
        pc_id = row.id

    def drafting() -> bool:
        with Session(engine) as s:
            found = s.get(PartnerCampaign, pc_id)
            return found is not None and found.state == "drafting"

    b.wait(drafting, "the campaign workflow to invite Hamburg", 60)
    b.click("#personalise")
    b.wait(lambda: bool(b.all("#content-form")), "the editor form")
    assert b.driver.current_url.endswith(f"/partner-campaigns/{pc_id}")
    headline = b.css("#f-headline")
    headline.clear()
    headline.send_keys("Open day in Hamburg")
    event_date = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    b.set_value("#f-event_date", event_date)
    b.click("button[name=action][value=submit]")
    b.wait(lambda: "Submitted" in b.text(), "submitted")
    return pc_id


def gm_inbox(b: Browser, title: str) -> None:
    b.size(*DESKTOP)
    b.sign_in("gm.berlin@northwind.example")
    b.go("/inbox")
    assert title not in b.text()
    b.sign_in("gm.hamburg@northwind.example")
    b.go("/inbox")
    task = next(a for a in b.all("a.title") if title in a.text)
    task.click()
    b.wait(lambda: "Your decision" in b.text(), "the GM's decision form")
    assert "Open day in Hamburg" in b.text()


def journey(b: Browser, engine: Engine, title: str) -> int:
    item_id = publish(b, engine, title)
    pc_id = order_on_a_phone(b, engine, item_id, title)
    gm_inbox(b, title)
    return pc_id


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
async def test_a_partner_orders_from_the_catalogue_on_a_phone(
    settings: Settings, demo: Engine, dev_env: WorkflowEnvironment, tmp_data: Path
) -> None:
    served_app = portal_with_queues(settings, demo, dev_env.client, tmp_data, "catalogue")
    app, port, base, local = served_app.app, served_app.port, served_app.base, served_app.settings
    # Hamburg's people would read German (tests/portal/test_portal_language.py).
    read_in_english(demo, "%.hamburg@%")
    title = "Spring open day"
    async with worker(dev_env, local, demo), served(app, port):
        browser = await asyncio.to_thread(Browser, base)
        try:
            pc_id = await asyncio.to_thread(journey, browser, demo, title)
        finally:
            await asyncio.to_thread(browser.quit)
    with Session(demo) as s:
        row = s.get(PartnerCampaign, pc_id)
        assert row is not None and row.state == "pending_approval"
        assert row.values["headline"] == "Open day in Hamburg"
