"""The portal end to end in headless Chromium (Debian's chromium and chromium-driver, driven by
Selenium without Selenium Manager, so nothing is downloaded): the real app under uvicorn, the
real worker on the Temporal dev server, the demo data.

marketing@ creates and launches "Open day" to North; editor.amsterdam@ personalises on a
390 px wide phone, first with a value the brand forbids (the message appears next to the
field), then corrected, picks a segment (its live count shows) and submits; gm.berlin@ never
sees it; gm.amsterdam@ approves from the inbox, seeing the audience count, and sends a test to
themselves from the page on a phone; the editor schedules the send a few seconds ahead; the
delivery worker sends it; marketing@ finds the messages to Amsterdam's contacts in the outbox
viewer with their recipients withheld (Amsterdam does not share its contacts) beside the GM's
test send (marked as a test), and gm.berlin@ is refused the outbox. Key pages are
screenshotted into docs/screenshots/ and checked with axe-core for serious or critical
accessibility violations.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from PIL import Image
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from core.settings import PROJECT_ROOT, Settings
from core.temporal import LazyTemporalClient
from models.campaigns import Campaign, PartnerCampaign
from models.contacts import Contact, PhoneSuppression, Segment
from models.org import Partner, User
from models.outbox import OutboxMessage, OutboxSms
from registry import queues
from scripts.demo.contacts import SMS_CONTACTS, seed_demo_contacts
from scripts.demo.organisation import DEMO_PASSWORD
from storage.local import LocalBlobStore

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
PHONE = (390, 844)
DESKTOP = (1280, 900)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def served(app: Any, port: int) -> AsyncIterator[str]:
    """uvicorn in this event loop (the Temporal client lives here); the browser script runs in
    a thread so the loop keeps serving."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def worker(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> AsyncIterator[None]:
    """A worker per registered queue that has work (orchestration and delivery), as
    `python worker.py` runs them; the queue names in `settings` are unique to the test."""
    with ThreadPoolExecutor(8) as pool:
        async with contextlib.AsyncExitStack() as running:
            for spec in queues(settings, engine):
                if spec.empty:
                    continue
                await running.enter_async_context(
                    Worker(
                        env.client,
                        task_queue=spec.task_queue,
                        workflows=spec.workflows,
                        activities=spec.activities,
                        activity_executor=pool,
                    )
                )
            yield


class Browser:
    """A thin layer over Selenium in the words of the journey."""

    def __init__(self, base: str) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service

        os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager fetch a driver
        options = Options()
        options.binary_location = str(CHROMIUM)
        for arg in (
            "--headless=new",
            "--no-sandbox",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
        ):
            options.add_argument(arg)
        self.driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        self.driver.set_script_timeout(60)
        self.base = base
        self.axe_source = AXE.read_text()

    def size(self, width: int, height: int) -> None:
        self.driver.set_window_size(width, height)

    def go(self, path: str) -> None:
        self.driver.get(self.base + path)

    def css(self, selector: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, selector))

    def wait(self, check: Callable[[], bool], what: str, seconds: float = 30) -> None:
        from selenium.common.exceptions import (
            NoSuchElementException,
            StaleElementReferenceException,
            TimeoutException,
            WebDriverException,
        )
        from selenium.webdriver.support.ui import WebDriverWait

        between_pages = (NoSuchElementException, StaleElementReferenceException)

        def settled() -> bool:
            # Chromium reports an element read while the next page replaces the document
            # as an "unknown error" rather than a stale element: the same race, so poll again.
            try:
                return check()
            except WebDriverException as e:
                if "does not belong to the document" in str(e):
                    return False
                raise

        try:
            WebDriverWait(
                self.driver, seconds, poll_frequency=0.2, ignored_exceptions=between_pages
            ).until(lambda _d: settled())
        except TimeoutException:
            shown = self.driver.find_element("css selector", "body").text[:1500]
            raise AssertionError(
                f"timed out waiting for {what} at {self.driver.current_url}:\n{shown}"
            ) from None

    def text(self) -> str:
        """The page's main text, read in one script call so a navigation cannot split it."""
        shown = self.driver.execute_script(
            "const m = document.querySelector('main'); return m ? m.innerText : null;"
        )
        if shown is None:
            from selenium.common.exceptions import NoSuchElementException

            raise NoSuchElementException("no <main> on the page yet")
        return str(shown)

    def sign_in(self, email: str) -> None:
        self.driver.delete_all_cookies()
        self.go("/login")
        self.css("#email").send_keys(email)
        self.css("#password").send_keys(DEMO_PASSWORD)
        self.css("form[action='/login'] button[type=submit]").click()
        self.wait(lambda: "/login" not in self.driver.current_url, f"{email} signed in")

    def click(self, selector: str) -> None:
        self.css(selector).click()

    def set_value(self, selector: str, value: str) -> None:
        """For date inputs, whose typing format depends on the browser's locale."""
        self.driver.execute_script(
            "arguments[0].value = arguments[1];"
            "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
            self.css(selector),
            value,
        )

    def screenshot(self, name: str) -> None:
        """A small PNG (256 colours) in docs/screenshots/."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / f"{name}.png"
        self.driver.save_screenshot(str(target))
        with Image.open(target) as img:
            small = img.convert("RGB").quantize(colors=256)
        small.save(target, optimize=True)

    def axe(self, page: str) -> None:
        """No serious or critical accessibility violation on the page as it is now."""
        self.driver.execute_script(self.axe_source)
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact,"
            " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))))"
            ".catch(e => done([{id: 'axe-error', impact: 'critical', nodes: [String(e)]}]));"
        )
        bad = [v for v in result if v["impact"] in ("serious", "critical")]
        assert bad == [], f"{page}: {bad}"

    def quit(self) -> None:
        self.driver.quit()


def design_policy(b: Browser) -> None:
    """HQ's admin designs a chain: the diagram follows the form while typing (htmx), a quorum
    larger than the brand's two reviewers is refused next to its field, the fix is saved."""
    from selenium.webdriver.support.ui import Select

    b.sign_in("admin@northwind.example")
    b.go("/approval-policies/new")
    b.css("#name").send_keys("Regional check")
    b.click("button[name=op][value=add]")
    b.wait(lambda: bool(b.all("#stages-1-name")), "a second stage")
    name = b.css("#stages-1-name")
    name.clear()
    name.send_keys("review")
    b.css("input[name='stages-1-roles'][value='brand_reviewer']").click()
    Select(b.css("#stages-1-rule")).select_by_value("quorum")
    b.set_value("#stages-1-quorum", "3")
    b.wait(lambda: "review" in b.css("#diagram").text, "the diagram of what was typed")
    b.click("button[name=op][value=save]:not(.visually-hidden)")
    b.wait(lambda: bool(b.all("#problems")), "the refusal")
    assert b.css("#stages-1-quorum").get_attribute("aria-invalid") == "true"
    assert b.css("#name").get_attribute("value") == "Regional check"  # nothing typed is lost
    b.axe("policy editor with an error")
    b.screenshot("policy-editor-error")
    b.set_value("#stages-1-quorum", "2")
    b.click("button[name=op][value=save]:not(.visually-hidden)")
    b.wait(lambda: "Policy saved as version 1" in b.text(), "saved")
    assert "Regional check" in b.text()
    b.axe("policy page")
    b.screenshot("policy")


def journey(browser: Browser, engine: Engine, campaign_name: str) -> int:
    """The whole chain through the browser; returns the Amsterdam partner campaign id."""
    b = browser
    # HQ marketer: sign-in page, then create and launch "Open day" to North.
    b.go("/login")
    b.axe("login")
    b.screenshot("login")
    design_policy(b)
    b.sign_in("marketing@northwind.example")
    b.go("/campaigns/new")
    b.css("#name").send_keys(campaign_name)
    from selenium.webdriver.support.ui import Select

    picker = Select(b.css("#template_version_id"))
    picker.select_by_visible_text(
        next(o.text for o in picker.options if o.text.startswith("Open day"))
    )
    b.css("input[name=target_kind][value=regions]").click()
    north = next(label for label in b.all("label") if label.text.strip() == "North")
    north.find_element("css selector", "input").click()
    b.axe("new campaign")
    b.click("form[action='/campaigns'] button[type=submit]")
    b.wait(lambda: "Campaign created" in b.text(), "campaign created")
    b.click("form[action$='/launch'] button")
    b.wait(lambda: "Launched" in b.text(), "campaign launched")

    with Session(engine) as s:
        campaign = s.exec(select(Campaign).where(Campaign.name == campaign_name)).one()
        cid = campaign.id

    def all_drafting() -> bool:
        with Session(engine) as s:
            states = [
                pc.state
                for pc in s.exec(
                    select(PartnerCampaign).where(PartnerCampaign.campaign_id == cid)
                ).all()
            ]
        return len(states) == 3 and set(states) == {"drafting"}

    b.wait(all_drafting, "every North partner drafting", 60)
    b.go(f"/campaigns/{cid}")
    b.axe("campaign progress")
    b.go("/campaigns")
    b.axe("campaigns")
    b.screenshot("campaigns")

    # Partner editor on a phone: an invalid headline first, then the corrected one.
    b.size(*PHONE)
    b.sign_in("editor.amsterdam@northwind.example")
    b.go("/my-campaigns")
    b.axe("my campaigns")
    b.screenshot("my-campaigns-390")
    link = next(a for a in b.all("a.title") if a.text == campaign_name)
    link.click()
    b.wait(lambda: bool(b.all("#content-form")), "the editor form")
    with Session(engine) as s:
        pcid = (
            s.exec(
                select(PartnerCampaign)
                .join(Partner, Partner.id == PartnerCampaign.partner_id)  # type: ignore[arg-type]
                .where(PartnerCampaign.campaign_id == cid, Partner.slug == "amsterdam")
            )
            .one()
            .id
        )
    assert b.driver.current_url.endswith(f"/partner-campaigns/{pcid}")
    headline = b.css("#f-headline")
    headline.clear()
    headline.send_keys("Guaranteed fun at the open day")
    assert "30 of 60 characters" in b.css("#f-headline-count").text
    event_date = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    b.set_value("#f-event_date", event_date)
    # The live preview already names the problem while typing (htmx).
    b.wait(lambda: "guaranteed" in b.css("#preview").text.lower(), "the live preview's note")
    b.click("button[name=action][value=submit]")
    b.wait(lambda: bool(b.all("#f-headline-error")), "the error next to the headline")
    error = b.css("#f-headline-error").text
    assert "guaranteed" in error.lower(), error
    assert b.css("#f-headline").get_attribute("aria-invalid") == "true"
    b.axe("editor with an error")
    b.screenshot("partner-editor-error-390")
    headline = b.css("#f-headline")
    headline.clear()
    headline.send_keys("Open day at Damrak")
    b.wait(lambda: bool(b.all("#preview iframe")), "the live preview")
    # The audience: everyone first, then the yoga fans, with the live count (htmx).
    everyone = b.css("#audience").text
    assert "will receive it" in everyone, everyone
    Select(b.css("#segment_id")).select_by_visible_text("Yoga fans")
    b.wait(lambda: b.css("#audience").text != everyone, "the segment's live count")
    reach = b.css("#audience").text
    assert int(reach.split()[0]) < int(everyone.split()[0]), (reach, everyone)
    b.click("button[name=action][value=submit]")
    b.wait(lambda: "Submitted" in b.text(), "submitted")
    b.screenshot("partner-editor-submitted-390")
    with Session(engine) as s:
        row = s.get(PartnerCampaign, pcid)
        yoga = s.exec(select(Segment).where(Segment.name == "Yoga fans")).all()
        assert row is not None and row.segment_id in {seg.id for seg in yoga}

    # Another partner's GM never sees it: not in the inbox, and the page does not exist.
    b.size(*DESKTOP)
    b.sign_in("gm.berlin@northwind.example")
    b.go("/inbox")
    assert "Amsterdam" not in b.text()
    b.go(f"/partner-campaigns/{pcid}")
    assert f"Partnerkampagne {pcid} nicht gefunden" in b.text()  # Berlin reads German

    # The Amsterdam GM approves from the inbox.
    b.sign_in("gm.amsterdam@northwind.example")
    b.go("/inbox")
    b.axe("inbox")
    b.screenshot("inbox")
    task = next(a for a in b.all("a.title") if campaign_name in a.text)
    assert task.text.startswith("Decide (The partner's GM)")
    task.click()
    b.wait(lambda: "Your decision" in b.text(), "the GM's decision form")
    assert "Open day at Damrak" in b.text()  # what changed from HQ's defaults
    assert b.css("#audience").text.startswith(f"Yoga fans: {reach.split()[0]} will receive it")
    b.wait(lambda: bool(b.all("#preview iframe")), "the preview")
    b.axe("GM review")
    b.screenshot("gm-review")
    b.click("button[name=decision][value=approve]")
    b.wait(lambda: "Approved." in b.text(), "approved")
    # The GM sends themselves a test from the page, on a phone: marked, never a delivery.
    b.size(*PHONE)
    b.go(f"/partner-campaigns/{pcid}")
    b.click("form[action$='/test-send'] button[type=submit]")
    b.wait(lambda: "Test sent." in b.text(), "the test sent")
    width = b.driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE[0], f"the page is {width} px wide on a {PHONE[0]} px phone"
    b.axe("test sent")
    b.screenshot("gm-test-send-390")
    b.size(*DESKTOP)
    b.go(f"/partner-campaigns/{pcid}/timeline")
    assert "test sent to 1: Daan Bakker, Amsterdam" in b.text()
    current = b.css(".diagram li[aria-current]")
    assert current.text.startswith("Approved"), current.text
    b.axe("timeline")
    b.screenshot("timeline")
    assert pcid is not None
    send(b, engine, cid, pcid, campaign_name)
    return pcid


def send(b: Browser, engine: Engine, cid: int | None, pcid: int, campaign_name: str) -> None:
    """The editor schedules the send a few seconds ahead; the delivery worker sends it; HQ sees
    the progress and the outbox; another partner's GM sees neither."""
    b.sign_in("editor.amsterdam@northwind.example")
    b.go(f"/partner-campaigns/{pcid}")
    # The field offers a slot on Amsterdam's wall clock; "Send now" goes at the earliest.
    assert b.css("#send_at").get_attribute("value")
    b.click("#send-now")
    b.wait(lambda: "Sending starts" in b.text(), "the send time saved")
    assert "Goes out on" in b.css("#progress").text

    def sent() -> bool:
        with Session(engine) as s:
            row = s.get(PartnerCampaign, pcid)
            return row is not None and row.state in ("sent", "partially_sent")

    b.wait(sent, "the partner campaign sent", 90)
    # The page polls the progress while it sends (htmx): it ends on the final count.
    b.wait(
        lambda: bool(re.search(r"\b(\d+) of \1 done", b.css("#progress").text)),
        "the final count on the page",
        15,
    )
    b.go(f"/partner-campaigns/{pcid}")  # the state badge too
    assert "sent" in b.css(".badge").text
    b.axe("send progress")
    b.screenshot("partner-sent")

    b.sign_in("marketing@northwind.example")
    b.go(f"/campaigns/{cid}")
    bars = [e.get_attribute("aria-label") for e in b.all("td progress")]
    assert any("Amsterdam" in label and label.endswith(" sent") for label in bars), bars
    b.screenshot("campaign-progress")
    b.click("nav a[href='/outbox']")
    b.wait(lambda: b.driver.current_url.endswith("/outbox"), "the outbox")
    # Narrowed to Amsterdam's partner campaign: the campaign's message to each recipient (and
    # the notices to Amsterdam's own people), nobody else's. Amsterdam does not share its
    # contacts with the brand: HQ sees that each message went, never to whom.
    label = f"{campaign_name} for Northwind Fitness Amsterdam"
    from selenium.webdriver.support.ui import Select

    Select(b.css("#partner_campaign_id")).select_by_visible_text(label)
    b.click("form[action='/outbox'] button[type=submit]")
    b.wait(lambda: "partner_campaign_id=" in b.driver.current_url, "the filtered outbox")
    rows = b.all("tbody tr")
    odd = [r.text for r in rows if label not in r.text]
    assert rows and not odd, odd
    assert not [r.text for r in rows if re.search(r"\.amsterdam\d+@", r.text)]
    mine = [r for r in rows if "1 recipient (withheld)" in r.text]
    tests = [r.text for r in rows if r.find_elements("css selector", ".badge.test")]
    assert len(tests) == 1 and "[Test] " in tests[0], tests  # the GM's test, marked
    with Session(engine) as s:
        row = s.get(PartnerCampaign, pcid)
        assert row is not None
        assert len(mine) == int(row.audience["eligible_email"])  # the SMS: the SMS outbox
    b.axe("outbox")
    b.screenshot("outbox")
    mine[0].find_element("css selector", "a[href^='/outbox/']").click()
    b.wait(lambda: bool(b.all("iframe[sandbox]")), "the message")
    frame = b.css("iframe[sandbox]")
    assert frame.get_attribute("sandbox") == ""  # no scripts, no same-origin
    assert "Open day at Damrak" in (frame.get_attribute("srcdoc") or "")
    # HQ's greeting in the recipient's language (the demo's fragments: Hi, Hallo, Hoi).
    assert re.search(r"(Hi|Hallo|Hoi) \[first name\],", frame.get_attribute("srcdoc") or "")
    assert "Recipient withheld" in b.text()
    assert b.css("a[href$='/raw']").get_attribute("download") is not None
    b.axe("outbox message")
    b.screenshot("outbox-message")

    b.sign_in("gm.berlin@northwind.example")
    assert not b.all("nav a[href='/outbox']")
    b.go("/outbox")
    assert "Amsterdam" not in b.text() and "amsterdam" not in b.text()
    b.go(f"/partner-campaigns/{pcid}/progress")
    assert "nicht gefunden" in b.text()


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
async def test_portal_journey(
    settings: Settings, demo: Engine, dev_env: WorkflowEnvironment, tmp_data: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    queue = f"portal-{uuid.uuid4().hex[:8]}"
    with Session(demo) as s:  # the demo's contacts and segments, as `make up` seeds them
        seed_demo_contacts(s)
        # The editor picks "Yoga fans": Amsterdam's contacts who prefer SMS join it, so the
        # journey's send texts them (and not the one who replied STOP).
        for contact in s.exec(select(Contact).where(col(Contact.phone).is_not(None))).all():
            contact.tags = sorted({*contact.tags, "yoga"})
            s.add(contact)
        # The journey reads the English source text; Amsterdam's people would read Dutch
        # (their partner's language: tests/portal/test_portal_language.py).
        for user in s.exec(select(User).where(col(User.email).like("%.amsterdam@%"))).all():
            user.locale = "en"
            s.add(user)
        s.commit()
    local = settings.model_copy(
        update={
            "temporal_task_queue": queue,
            "temporal_delivery_task_queue": f"{queue}-delivery",
            "temporal_documents_task_queue": f"{queue}-documents",
            "public_base_url": base,
            # Quiet hours are tested on the time-skipping server (tests/sms); on the real clock
            # they would hold the demo's SMS overnight and make the journey depend on the hour.
            "sms_quiet_start": time(0, 0),
            "sms_quiet_end": time(0, 0),
        }
    )
    # The demo's asset files, with signed URLs pointing at this server.
    store = LocalBlobStore(tmp_data / "assets", settings.secret_key.get_secret_value(), base)
    app = create_app(
        local, engine=demo, temporal=LazyTemporalClient(local, dev_env.client), blob_store=store
    )
    name = f"Open day {uuid.uuid4().hex[:6]}"
    async with worker(dev_env, local, demo), served(app, port):
        browser = await asyncio.to_thread(Browser, base)
        try:
            pcid = await asyncio.to_thread(journey, browser, demo, name)
        finally:
            await asyncio.to_thread(browser.quit)

    with Session(demo) as s:
        row = s.get(PartnerCampaign, pcid)
        assert row is not None
        assert row.state == "sent"
        assert row.audience and row.audience["eligible"] > 0
        # Amsterdam's demo contacts who prefer SMS got one SMS each, in the SMS outbox; the one
        # who replied STOP got nothing, neither SMS nor email.
        texts = s.exec(select(OutboxSms).where(OutboxSms.partner_campaign_id == pcid)).all()
        stopped = s.exec(select(PhoneSuppression)).all()
        assert len(texts) == row.audience["eligible_sms"] == SMS_CONTACTS - 1
        assert len({t.to for t in texts}) == len(texts)
        assert stopped and not {t.to for t in texts} & {p.phone for p in stopped}
        mailed = set(
            s.exec(select(OutboxMessage.to).where(OutboxMessage.partner_campaign_id == pcid)).all()
        )
        stop_email = s.exec(
            select(Contact.email).where(col(Contact.phone).in_([p.phone for p in stopped]))
        ).all()
        assert stop_email and not mailed & set(stop_email)
