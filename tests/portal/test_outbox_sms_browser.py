"""The outbox SMS page in headless Chromium on a 390 px phone: HQ's marketer reads the SMS
kept by the embedded SMS transport (number, sender, text, encoding and segments) without
sideways scrolling and without serious accessibility violations; screenshotted into
docs/screenshots/. No workflow runs: the page only reads."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from mail.sms import SmsMessage
from mail.sms_transport import OutboxSmsTransport
from mail.tags import make_tags
from models.contacts import Contact
from models.delivery import Delivery
from models.org import Partner
from storage.local import LocalBlobStore
from tests.delivery.test_delivery import approved_row, good_values
from tests.portal.test_portal_browser import (
    CHROMEDRIVER,
    CHROMIUM,
    DESKTOP,
    PHONE,
    Browser,
    free_port,
    served,
)

TEXTS = [
    (
        "+31612345678",
        "Northwind",
        "Open day at Northwind Amsterdam on Saturday 10:00-16:00. "
        "Bring a friend! https://nw.example/r/aB3 STOP to opt out",
    ),
    (
        "+31687654321",
        "Northwind",
        "Welkom bij de open dag 👋 zaterdag 10:00. https://nw.example/r/x9Z STOP om af te melden",
    ),
]


def _seed(demo: Engine) -> None:
    pcid = approved_row(demo, good_values(), None)
    with Session(demo) as s:
        ams = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        ams.contacts_shared_with_brand = True  # so HQ's marketer reads numbers and texts
        s.add(ams)
        rows = []
        for i, (phone, _, _) in enumerate(TEXTS):
            contact = Contact(
                brand_id=ams.brand_id,
                partner_id=ams.id or 0,
                email=f"sms{i}@example.com",
                phone=phone,
                channel="sms",
            )
            s.add(contact)
            s.flush()
            row = Delivery(
                partner_campaign_id=pcid,
                brand_id=ams.brand_id,
                partner_id=ams.id or 0,
                contact_id=contact.id,
                email=contact.email,
                channel="sms",
                phone=phone,
            )
            s.add(row)
            s.flush()
            rows.append(row.id)
        s.commit()
        brand_id = ams.brand_id
    outbox = OutboxSmsTransport(demo)
    for (phone, sender, text), delivery_id in zip(TEXTS, rows, strict=True):
        outbox.send_sms(
            SmsMessage(to=phone, body=text, message_id=f"sms-{delivery_id}", sender_id=sender),
            tags=make_tags(brand=brand_id, partner_campaign=pcid, delivery=str(delivery_id)),
        )


def look(b: Browser) -> None:
    b.size(*PHONE)
    b.sign_in("marketing@northwind.example")
    b.go("/outbox-sms")
    b.wait(lambda: "Outbox SMS" in b.text(), "the outbox SMS page")
    shown = b.text()
    for phone, _, _ in TEXTS:
        assert phone in shown, phone
    assert "GSM-7, 1 segment" in shown and "UCS-2, 2 segments" in shown
    width = b.driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE[0], f"the page is {width} px wide on a {PHONE[0]} px phone"
    b.axe("outbox sms")
    b.size(PHONE[0], 1100)  # both messages on a phone
    b.screenshot("outbox-sms-390")
    b.size(*DESKTOP)


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
async def test_outbox_sms_page_on_a_phone(
    settings: Settings, demo: Engine, tmp_data: Path, blob_store: LocalBlobStore
) -> None:
    _seed(demo)
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
