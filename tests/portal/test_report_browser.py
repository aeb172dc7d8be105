"""The report pages in headless Chromium on the demo with its past campaigns: HQ's /reports at
desktop width and a GM's /my-reports on a 390 px phone, both without serious accessibility
violations and without sideways scrolling on the phone; screenshotted into docs/screenshots/.
No workflow runs: the pages only read."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from scripts.demo.approvals import seed_demo_approvals
from scripts.demo.contacts import seed_demo_contacts
from scripts.demo.history import seed_demo_history
from storage.local import LocalBlobStore
from tests.portal.test_portal_browser import (
    CHROMEDRIVER,
    CHROMIUM,
    DESKTOP,
    PHONE,
    Browser,
    free_port,
    served,
)


def look(b: Browser) -> None:
    b.sign_in("admin@northwind.example")
    b.go("/reports?group=campaign")
    b.wait(lambda: "Time to market" in b.text(), "the reports page")
    shown = b.text()
    for expected in ("Participation", "Winter open day", "Summer challenge", "Quality", "Trend"):
        assert expected in shown, expected
    charts = b.all("svg.chart")
    assert len(charts) >= 3
    assert all(c.size["width"] > 200 for c in charts)
    assert "Invited" in (charts[0].get_attribute("aria-label") or "")
    b.axe("reports")
    b.size(DESKTOP[0], 2000)  # tall enough for the first sections
    b.screenshot("reports")

    b.size(*PHONE)
    b.sign_in("gm.amsterdam@northwind.example")
    b.go("/my-reports")
    # In the GM's language: Amsterdam's, Dutch.
    b.wait(lambda: "Mijn rapporten" in b.text(), "my reports")
    shown = b.text()
    assert "Northwind Fitness Amsterdam" in shown
    assert "te klein om te vergelijken" in shown  # North has 3 clubs, fewer than 5
    assert "Berlin" not in shown and "Munich" not in shown
    width = b.driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE[0], f"the page is {width} px wide on a {PHONE[0]} px phone"
    b.axe("my reports")
    b.size(PHONE[0], 1900)  # the whole page on a phone
    b.screenshot("my-reports-390")
    b.size(*DESKTOP)


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
async def test_report_pages_in_a_browser(
    settings: Settings, demo: Engine, tmp_data: Path, blob_store: LocalBlobStore
) -> None:
    with Session(demo) as s:
        seed_demo_contacts(s)
        seed_demo_approvals(s)
        seed_demo_history(s)
        s.commit()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    local = settings.model_copy(update={"public_base_url": base})
    app = create_app(local, engine=demo, temporal=LazyTemporalClient(local), blob_store=blob_store)
    async with served(app, port):
        browser = await asyncio.to_thread(Browser, base)
        try:
            await asyncio.wait_for(asyncio.to_thread(look, browser), timeout=60)
        finally:
            await asyncio.to_thread(browser.quit)
