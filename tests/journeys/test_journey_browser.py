"""The journey pages in headless Chromium on a 390 px phone: Amsterdam's GM reads a running
journey (what it does, the steps drawn, status and counts, switch off), the editor the content
form of a journey not yet switched on, HQ's marketer the journey page with its partners; each
without sideways scrolling and without serious accessibility violations, screenshotted into
docs/screenshots/. No workflow runs: the pages only read."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Engine

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from domain.journeys import EnrolmentState
from domain.states import DeliveryStatus
from storage.local import LocalBlobStore
from tests.journeys.design_fixtures import (
    EDITOR,
    GM,
    MARKETER,
    activation_row,
    journey_row,
    open_day_version,
    run_side_rows,
)
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


def _phone_check(b: Browser, path: str, expect: str, name: str, anchor: str = "") -> None:
    b.go(path)
    b.wait(lambda: expect in b.text(), f"{path} shows {expect!r}")
    width = b.driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE[0], f"{path} is {width} px wide on a {PHONE[0]} px phone"
    b.axe(path)
    if anchor:  # the part worth seeing, at the top of the screen
        b.driver.execute_script("document.getElementById(arguments[0]).scrollIntoView()", anchor)
    if name:
        b.screenshot(name)


def look(b: Browser, running: int, fresh: int) -> None:
    b.size(*PHONE)
    b.sign_in(GM)
    _phone_check(b, "/journeys", "Birthday", "")
    _phone_check(b, f"/journeys/{running}", "12 contacts on the journey", "journey-partner-390")
    assert "Switch off" in b.text()
    b.sign_in(EDITOR)
    _phone_check(b, f"/journeys/{fresh}", "Your content", "journey-switch-on-390", "content-h")
    b.sign_in(MARKETER)
    _phone_check(b, f"/journeys/{running}", "Partners", "journey-hq-390", "partners-h")
    b.size(*DESKTOP)


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
async def test_journey_pages_on_a_phone(
    settings: Settings, demo: Engine, blob_store: LocalBlobStore
) -> None:
    version_id = open_day_version(demo)
    running = journey_row(demo, version_id, key="birthday")
    fresh = journey_row(demo, version_id, key="welcome")
    aid = activation_row(demo, running)
    run_side_rows(
        demo,
        running,
        aid,
        version_id,
        {EnrolmentState.running: 12, EnrolmentState.completed: 30, EnrolmentState.exited: 2},
        {DeliveryStatus.sent: 41, DeliveryStatus.suppressed: 1},
    )
    # Amsterdam's people would read Dutch (tests/journeys/test_portal.py).
    read_in_english(demo, "%.amsterdam@%")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    local = settings.model_copy(update={"public_base_url": base})
    app = create_app(local, engine=demo, temporal=LazyTemporalClient(local), blob_store=blob_store)
    async with served(app, port):
        browser = await asyncio.to_thread(Browser, base)
        try:
            await asyncio.wait_for(asyncio.to_thread(look, browser, running, fresh), timeout=90)
        finally:
            await asyncio.to_thread(browser.quit)
