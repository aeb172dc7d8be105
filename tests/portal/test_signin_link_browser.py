"""From the invitation email to a submitted campaign on a 390 px phone, counting taps, in
headless Chromium on the Temporal dev server with the real worker: HQ launches a campaign
whose slots have defaults; editor.amsterdam@ opens the link in the invitation (tap 1),
confirms (tap 2) and submits (tap 3), every page in Dutch; editor.hamburg@ does the same in
German. The goal is at most five. Screenshots: docs/screenshots/invitation-{nl,de}-*.png."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from core.security import issue_access_token
from core.settings import Settings
from mail.transport import OutboxTransport
from models.campaigns import Campaign, PartnerCampaign
from models.org import Partner, Region, User
from models.templates import Template, TemplateVersion
from tests.portal.browser_app import portal_with_queues
from tests.portal.test_portal_browser import (
    CHROMEDRIVER,
    CHROMIUM,
    PHONE,
    Browser,
    served,
    worker,
)

pytestmark = pytest.mark.e2e

EDITOR = "editor.amsterdam@northwind.example"
# Each partner's editor, the words its pages must show and the English they must not.
SPEAKERS = {
    "nl": (
        "editor.amsterdam@northwind.example",
        "amsterdam",
        ("Doorgaan", "Indienen voor goedkeuring"),
    ),
    "de": ("editor.hamburg@northwind.example", "hamburg", ("Weiter", "Zur Freigabe einreichen")),
}
ENGLISH = ("Submit for approval", "Continue", "Save draft", "Sign out")
MARKETING = "marketing@northwind.example"
MOST_TAPS = 5


def _campaign(engine: Engine, name: str) -> int:
    """A draft "Open day" campaign for region North with HQ's defaults for every slot."""
    now = datetime.now(UTC)
    with Session(engine) as s:
        version = s.exec(
            select(TemplateVersion).join(Template).where(Template.name == "Open day")
        ).one()
        north = s.exec(select(Region).where(Region.name == "North")).one()
        author = s.exec(select(User).where(User.email == MARKETING)).one()
        campaign = Campaign(
            brand_id=version.brand_id,
            name=name,
            template_version_id=version.id or 0,
            target={"regions": [north.id]},
            personalise_until=now + timedelta(days=3),
            send_by=now + timedelta(days=10),
            created_by=author.id or 0,
            defaults={
                "headline": "Open day at your club",
                "event_date": (now + timedelta(days=8)).date().isoformat(),
            },
        )
        s.add(campaign)
        s.commit()
        assert campaign.id is not None
        return campaign.id


def _invitation_link(settings: Settings, name: str, editor: str = EDITOR) -> str | None:
    for msg in OutboxTransport(settings.data_dir / "outbox").list_messages():
        text = msg.get_body(("plain",))
        if editor not in str(msg["To"]) or text is None or name not in str(msg["Subject"]):
            continue
        return next(w for w in str(text.get_content()).split() if "/portal-link/" in w)
    return None


def _row(engine: Engine, campaign_id: int, slug: str = "amsterdam") -> PartnerCampaign:
    with Session(engine) as s:
        return s.exec(
            select(PartnerCampaign)
            .join(Partner)
            .where(PartnerCampaign.campaign_id == campaign_id, Partner.slug == slug)
        ).one()


def _fits(b: Browser) -> None:
    width = b.driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE[0], f"the page is {width} px wide on a {PHONE[0]} px phone"


def _speaks(b: Browser, lang: str, words: tuple[str, ...]) -> None:
    assert b.driver.find_element("css selector", "html").get_attribute("lang") == lang
    shown = b.driver.page_source
    present = [w for w in words if w in b.text() or w in shown]
    assert present, f"none of {words} on the page"
    english = [w for w in ENGLISH if f">{w}<" in shown]
    assert not english, f"English on the {lang} page: {english}"


def from_email_to_submitted(b: Browser, link: str, lang: str = "nl") -> int:
    """The editor's taps from the email to a submitted campaign; returns how many."""
    words = SPEAKERS[lang][2]
    taps = 0
    b.size(*PHONE)
    b.driver.delete_all_cookies()
    b.driver.get(link)  # tap 1: the link in the email
    taps += 1
    b.wait(lambda: bool(b.all("#open-campaign")), "the sign-in link's page")
    _fits(b)
    _speaks(b, lang, words)
    b.axe("sign-in link page")
    b.screenshot(f"invitation-{lang}-1-link-390")
    b.click("#open-campaign")  # tap 2: continue (signs in)
    taps += 1
    b.wait(lambda: bool(b.all("#content-form")), "the campaign's form")
    _fits(b)
    _speaks(b, lang, words)
    b.screenshot(f"invitation-{lang}-2-form-390")
    b.click("button[name=action][value=submit]")  # tap 3: submit HQ's defaults
    taps += 1
    b.wait(lambda: not b.all("button[name=action][value=submit]"), "the submitted campaign")
    assert b.driver.find_element("css selector", "html").get_attribute("lang") == lang
    b.screenshot(f"invitation-{lang}-3-submitted-390")
    return taps


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
async def test_invitation_to_submitted_campaign_in_five_taps(
    settings: Settings, demo: Engine, dev_env: WorkflowEnvironment, tmp_data: Path
) -> None:
    served_app = portal_with_queues(settings, demo, dev_env.client, tmp_data, "links")
    app, port, base, local = served_app.app, served_app.port, served_app.base, served_app.settings
    name = f"Open day {uuid.uuid4().hex[:6]}"
    cid = _campaign(demo, name)
    with Session(demo) as s:
        hq = s.exec(select(User).where(User.email == MARKETING)).one()
    token = issue_access_token(
        settings.secret_key.get_secret_value(), hq.id or 0, 600, generation=hq.session_generation
    )
    async with worker(dev_env, local, demo), served(app, port):
        async with httpx.AsyncClient(base_url=base) as api:
            launched = await api.post(
                f"/api/v1/campaigns/{cid}/launch", headers={"Authorization": f"Bearer {token}"}
            )
            assert launched.status_code == 200, launched.text
        for lang, (editor, slug, _words) in SPEAKERS.items():
            link: str | None = None
            for _ in range(600):
                link = _invitation_link(local, name, editor)
                if link:
                    break
                await asyncio.sleep(0.1)
            assert link and link.startswith(f"{base}/portal-link/"), "the invitation email"
            browser = await asyncio.to_thread(Browser, base)
            try:
                taps = await asyncio.to_thread(from_email_to_submitted, browser, link, lang)
                for _ in range(300):
                    if _row(demo, cid, slug).state == "pending_approval":
                        break
                    await asyncio.sleep(0.1)
            finally:
                await asyncio.to_thread(browser.quit)
            row = _row(demo, cid, slug)
            assert row.state == "pending_approval", (lang, row.state)
            assert row.values["headline"] == "Open day at your club"
            assert taps <= MOST_TAPS, (lang, taps)
        async with httpx.AsyncClient(base_url=base) as api:
            await api.post(
                f"/api/v1/campaigns/{cid}/cancel", headers={"Authorization": f"Bearer {token}"}
            )
