"""The SMS preview's live counter in headless Chromium on a 390 px phone: the Amsterdam editor
types a longer offer and the counter under the SMS goes from one SMS to two without a save;
the language tabs show the SMS in German. Screenshot: docs/screenshots/sms-counter-390.png."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.campaigns import PartnerCampaign
from storage.local import LocalBlobStore
from tests.approvals.test_api import campaign_row, partner_campaign
from tests.portal.test_portal_browser import (
    CHROMEDRIVER,
    CHROMIUM,
    PHONE,
    Browser,
    free_port,
    served,
)

pytestmark = pytest.mark.e2e

LONG_OFFER = "Join on the day: your first month is free, and a friend trains with you all May!"


def drafting_campaign(engine: Engine) -> int:
    pcid = partner_campaign(engine, campaign_row(engine, "gm", launched=True), "amsterdam")
    with Session(engine) as s:
        row = s.get(PartnerCampaign, pcid)
        assert row is not None
        row.values = {"event_date": (datetime.now(UTC) + timedelta(days=2)).date().isoformat()}
        s.add(row)
        s.commit()
    return pcid


def counter_journey(b: Browser, pcid: int) -> None:
    b.size(*PHONE)
    b.sign_in("editor.amsterdam@northwind.example")
    b.go(f"/partner-campaigns/{pcid}")
    b.wait(lambda: bool(b.all("#sms-counter")), "the SMS preview")
    first = b.css("#sms-counter").text
    assert first.startswith("1 sms · GSM-7 · nog "), first  # the editor's Dutch
    assert b.css("#sms-text").text.startswith("Hi ")
    # One input per language for the offer, labelled with the language.
    assert [b.css(f"label[for='f-offer-{loc}']").text for loc in ("en", "de", "nl")] == [
        "English",
        "Deutsch",
        "Nederlands",
    ]
    offer = b.css("#f-offer-en")
    offer.clear()
    offer.send_keys(LONG_OFFER)
    b.wait(lambda: b.css("#sms-counter").text.startswith("2 sms"), "the counter at two SMS")
    counter = b.css("#sms-counter").text
    assert counter.startswith("2 sms · GSM-7 · nog "), counter
    assert LONG_OFFER in b.css("#sms-text").text  # the text as typed, before any save
    b.wait(
        lambda: LONG_OFFER in (b.css("#preview iframe").get_attribute("srcdoc") or ""),
        "the email preview with the same offer",
    )
    width = b.driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE[0], f"the page is {width} px wide on a {PHONE[0]} px phone"
    b.driver.execute_script("document.getElementById('sms-preview').scrollIntoView()")
    b.screenshot("sms-counter-390")
    b.axe("SMS counter")
    # The German tab clicked straight after typing: the typed field's change and the pending
    # typing preview must not bring the English preview back over the German one.
    b.css("#f-offer-en").send_keys(" ")
    b.click("nav.tabs a[lang='de']")
    # The German SMS, with HQ's German offer (nothing typed in German).
    b.wait(lambda: b.css("#sms-text").text.startswith("Hallo "), "the German SMS")
    assert "STOP zum Abmelden" in b.css("#sms-text").text
    # The tab's own preview (htmx) may land after the counter's answer: wait for it.
    b.wait(lambda: b.css("nav.tabs a[aria-current='true']").text == "Deutsch", "the German tab")
    time.sleep(1.5)  # past the typing delay: a late English preview would have landed by now
    assert b.css("#sms-text").text.startswith("Hallo ")
    assert b.css("nav.tabs a[aria-current='true']").text == "Deutsch"


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
async def test_sms_counter_while_typing(
    settings: Settings, demo: Engine, dev_env: WorkflowEnvironment, tmp_data: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    local = settings.model_copy(update={"public_base_url": base})
    store = LocalBlobStore(tmp_data / "assets", settings.secret_key.get_secret_value(), base)
    app = create_app(
        local, engine=demo, temporal=LazyTemporalClient(local, dev_env.client), blob_store=store
    )
    pcid = drafting_campaign(demo)
    async with served(app, port):
        browser = await asyncio.to_thread(Browser, base)
        try:
            await asyncio.to_thread(counter_journey, browser, pcid)
        finally:
            await asyncio.to_thread(browser.quit)
