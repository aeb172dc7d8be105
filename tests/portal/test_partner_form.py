"""The partner's campaign form in the partner's language and time zone: Dutch for the
Amsterdam editor, every refused field marked at its input and listed at the top with links,
partner text inert everywhere, the send time read and shown on Amsterdam's wall clock and
stored in UTC, Send now, and Resume for a paused send (HQ only, within the brand)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
from core.errors import FieldError
from core.settings import Settings
from core.temporal import LazyTemporalClient
from domain.workflow_ids import send_workflow_id
from i18n.context import speaking
from models.campaigns import Campaign, PartnerCampaign
from services import send_time
from storage.local import LocalBlobStore
from tests.approvals.test_api import campaign_row, partner_campaign
from tests.campaigns.test_campaign_workflows import (
    EDITOR_AMS,
    GM_AMS,
    act,
    finish,
    launched,
    server_clock,  # noqa: F401 - the autouse fixture: campaign windows follow the server's clock
    submit_content,
)
from tests.campaigns.test_campaign_workflows import (
    partner_campaign as pc_of,
)
from tests.portal.test_portal import portal, sign_in, token_of  # noqa: F401  (the fixture)
from workflows.send import SendWorkflow

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
DAY = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
SSTI = "{{ 7*7 }}"
XSS = "<script>alert(1)</script>"
ADMIN = "admin@northwind.example"


@pytest.fixture
def pc(demo: Engine) -> int:
    """Amsterdam's partner campaign, drafting (its editor and GM speak Dutch)."""
    return partner_campaign(demo, campaign_row(demo, "gm", launched=True), "amsterdam")


def _set(demo: Engine, pc_id: int, **fields: Any) -> None:
    with Session(demo) as s:
        row = s.get(PartnerCampaign, pc_id)
        assert row is not None
        for name, value in fields.items():
            setattr(row, name, value)
        s.add(row)
        s.commit()


def _send_by(demo: Engine, pc_id: int) -> datetime:
    with Session(demo) as s:
        row = s.get(PartnerCampaign, pc_id)
        campaign = s.get(Campaign, row.campaign_id if row else 0)
        assert campaign is not None
        return campaign.send_by.replace(tzinfo=UTC)


def _visible(page: str) -> str:
    """The page's text without tags (what a reader sees), unescaped."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


# Language ---------------------------------------------------------------------------------------


def test_the_amsterdam_editor_sees_the_form_in_dutch(portal: TestClient, pc: int) -> None:  # noqa: F811
    sign_in(portal, EDITOR_AMS)
    page = portal.get(f"/partner-campaigns/{pc}").text
    for dutch in (
        "Jouw inhoud",
        "Opslaan",
        "Indienen voor goedkeuring",
        "Wie hem ontvangt",
        "Iedereen",
        "Lege velden gebruiken de tekst van het hoofdkantoor.",
        ">Kop (verplicht)</label>",  # the slot's Dutch label
        "Maximaal 60 tekens",
        "Voorbeeld",
        "Test versturen",
        "in bewerking",
    ):
        assert dutch in page, dutch
    shown = _visible(page)
    for english in (
        "Your content",
        "Submit for approval",
        "Who receives it",
        "Everyone",
        "Fields left empty",
        "(required)",
        "At most",
        "Send a test",
        "Preview",
        "drafting",
    ):
        assert english not in shown, english


def test_three_bad_fields_are_marked_at_their_fields_and_listed_with_links(
    portal: TestClient,  # noqa: F811
    pc: int,
) -> None:
    token = sign_in(portal, EDITOR_AMS)
    typed = f"{SSTI} {XSS} " + "x" * 60
    resp = portal.post(
        f"/partner-campaigns/{pc}/content",
        data={
            "csrf_token": token,
            "action": "submit",
            "slot__headline": typed,
            "slot__event_date": "morgen",
            "slot__offer__en": "Fine",
            "slot__offer__nl": "z" * 130,
            "slot__cta_url": "https://example.com",
        },
    )
    assert resp.status_code == 422
    page = resp.text
    errors = {
        "f-headline": "Kop: mag maximaal 60 tekens hebben (je hebt er ",
        "f-event_date": "Datum: moet een datum zijn als JJJJ-MM-DD",
        "f-offer-nl": "Lokaal aanbod (nl): mag maximaal 120 tekens hebben (je hebt er 130).",
    }
    summary = page.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    assert "Corrigeer de velden die hieronder zijn gemarkeerd." in summary
    for anchor, message in errors.items():
        # At the field: the message, the input marked invalid and pointing at it.
        assert re.search(rf'id="{anchor}-error"><p>{re.escape(message)}', page), anchor
        assert re.search(
            rf'id="{anchor}"[^>]*aria-describedby="[^"]*{anchor}-error"[^>]*aria-invalid="true"',
            page,
        ), anchor
        # At the top: a link to the field.
        assert f'<a href="#{anchor}">{message}' in summary, anchor
    assert summary.count("<li>") == 3
    # What was typed stays, inert: escaped in the field, never evaluated or run.
    assert html.escape(typed, quote=True) in page
    assert XSS not in page and "49" not in _visible(summary)


def test_every_message_of_one_field_is_shown(portal: TestClient, pc: int, demo: Engine) -> None:  # noqa: F811
    """A value that breaks two rules (too long and a restricted word) shows both."""
    from models.org import Brand

    with Session(demo) as s:
        brand = s.get(Brand, s.get(PartnerCampaign, pc).brand_id)  # type: ignore[union-attr]
        assert brand is not None
        brand.restricted_words = [*brand.restricted_words, "gratis"]
        s.add(brand)
        s.commit()
    token = sign_in(portal, EDITOR_AMS)
    resp = portal.post(
        f"/partner-campaigns/{pc}/content",
        data={
            "csrf_token": token,
            "action": "save",
            "slot__headline": "gratis " + "y" * 60,
            "slot__event_date": DAY,
        },
    )
    assert resp.status_code == 422
    block = resp.text.split('id="f-headline-error">', 1)[1].split("</div>", 1)[0]
    assert "mag maximaal 60 tekens hebben" in block
    assert 'mag het woord "gratis" niet gebruiken.' in html.unescape(block)


def test_partner_text_stays_inert_in_the_preview(portal: TestClient, pc: int) -> None:  # noqa: F811
    token = sign_in(portal, EDITOR_AMS)
    resp = portal.post(
        f"/partner-campaigns/{pc}/preview",
        data={
            "slot__headline": f"{SSTI}{XSS}"[:60],
            "slot__event_date": DAY,
            "slot__offer__nl": "{% if true %}ja{% endif %}",
            "preview_locale": "nl",
        },
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert resp.status_code == 200, resp.text[:500]
    assert "<iframe" in resp.text and XSS not in resp.text
    srcdoc = html.unescape(resp.text.split('srcdoc="', 1)[1].split('"', 1)[0])
    assert "{{ 7*7 }}" in srcdoc and "<h1" in srcdoc and "49" not in srcdoc.split("<h1", 1)[1][:80]
    assert "<script>" not in srcdoc
    assert "{% if true %}ja{% endif %}" in html.unescape(resp.text)


def test_messages_stay_english_for_english_readers(
    portal: TestClient,  # noqa: F811
    pc: int,
    demo: Engine,
) -> None:
    """The validation messages are translated where the portal produces them; a user who chose
    English (and the API, whose context is English) reads the source text."""
    from sqlmodel import select

    from models.org import User

    with Session(demo) as s:
        editor = s.exec(select(User).where(User.email == EDITOR_AMS)).one()
        editor.locale = "en"
        s.add(editor)
        s.commit()
    token = sign_in(portal, EDITOR_AMS)
    resp = portal.post(
        f"/partner-campaigns/{pc}/content",
        data={"csrf_token": token, "slot__headline": "x" * 61, "slot__event_date": DAY},
    )
    assert resp.status_code == 422
    assert "Headline: must be at most 60 characters (you have 61)." in resp.text
    assert "Please correct the fields marked below." in resp.text


# Time ------------------------------------------------------------------------------------------


def test_a_wall_clock_time_in_amsterdam_is_stored_in_utc() -> None:
    winter = send_time.read_send_time(
        "2027-01-12T09:00",
        "Europe/Amsterdam",
        datetime(2027, 1, 10, tzinfo=UTC),
        datetime(2027, 1, 20, tzinfo=UTC),
    )
    assert winter == datetime(2027, 1, 12, 8, 0, tzinfo=UTC)
    summer = send_time.read_send_time(
        "2027-07-12T09:00",
        "Europe/Amsterdam",
        datetime(2027, 7, 10, tzinfo=UTC),
        datetime(2027, 7, 20, tzinfo=UTC),
    )
    assert summer == datetime(2027, 7, 12, 7, 0, tzinfo=UTC)


def test_the_suggested_slot_is_the_next_nine_or_ten_oclock_before_the_deadline() -> None:
    zone = "Europe/Amsterdam"
    send_by = datetime(2027, 1, 20, 12, tzinfo=UTC)
    # 07:00 local: today's 09:00.
    assert send_time.prefill(datetime(2027, 1, 12, 6, tzinfo=UTC), send_by, zone) == datetime(
        2027, 1, 12, 8, tzinfo=UTC
    )
    # 09:30 local: today's 10:00.
    assert send_time.prefill(datetime(2027, 1, 12, 8, 30, tzinfo=UTC), send_by, zone) == datetime(
        2027, 1, 12, 9, tzinfo=UTC
    )
    # 10:00 local exactly: 10:00 is before the earliest allowed time, so tomorrow's 09:00.
    assert send_time.prefill(datetime(2027, 1, 12, 9, tzinfo=UTC), send_by, zone) == datetime(
        2027, 1, 13, 8, tzinfo=UTC
    )
    # No slot left before the deadline: the earliest allowed time.
    late = datetime(2027, 1, 20, 10, tzinfo=UTC)
    assert send_time.prefill(late, send_by, zone) == late + send_time.LEAD


def test_bad_send_times_are_refused_in_the_readers_language() -> None:
    now, send_by = datetime(2027, 1, 10, 12, tzinfo=UTC), datetime(2027, 1, 20, 12, tzinfo=UTC)
    cases = {
        "morgen": "Vul een datum en tijd in, zoals 2027-03-01 09:00.",
        "2027-01-09T09:00": "Kies een tijd na 10 jan 2027, 13:00, of gebruik Nu verzenden.",
        "2027-01-21T09:00": "Kies een tijd uiterlijk 20 jan 2027, 13:00.",
    }
    with speaking("nl", "Europe/Amsterdam"):
        for raw, message in cases.items():
            with pytest.raises(FieldError) as refused:
                send_time.read_send_time(raw, "Europe/Amsterdam", now, send_by)
            assert refused.value.errors == [{"field": "send_at", "message": message}]
        with pytest.raises(FieldError):
            send_time.send_now(send_by, send_by)
    assert send_time.send_now(now, send_by) == now + send_time.LEAD


def test_the_send_time_field_is_prefilled_and_refusals_keep_what_was_typed(
    portal: TestClient,  # noqa: F811
    pc: int,
    demo: Engine,
) -> None:
    _set(demo, pc, state="approved")
    token = sign_in(portal, EDITOR_AMS)
    page = portal.get(f"/partner-campaigns/{pc}").text
    assert "Verzenden op (Midden-Europese standaardtijd (Europe/Amsterdam))" in page or (
        "Verzenden op (" in page and "(Europe/Amsterdam))</label>" in page
    )
    suggested = send_time.prefill(datetime.now(UTC), _send_by(demo, pc), "Europe/Amsterdam")
    local = suggested.astimezone(AMSTERDAM).strftime("%Y-%m-%dT%H:%M")
    assert f'value="{local}"' in page
    assert local[-5:] in ("09:00", "10:00") or suggested <= datetime.now(UTC) + timedelta(hours=1)
    assert ">Nu verzenden</button>" in page and "Verzendmoment opslaan" in page
    for typed, message in (
        ("volgende week", "Vul een datum en tijd in"),
        ("2020-01-01T09:00", "Kies een tijd na "),
        (
            (_send_by(demo, pc) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
            "Kies een tijd uiterlijk",
        ),
    ):
        resp = portal.post(
            f"/partner-campaigns/{pc}/schedule", data={"csrf_token": token, "send_at": typed}
        )
        assert resp.status_code == 422, resp.text[:300]
        assert re.search(r'id="send_at-error"><p>' + re.escape(message), resp.text), typed
        assert f'value="{html.escape(typed)}"' in resp.text
        assert 'aria-invalid="true"' in resp.text and '<a href="#send_at">' in resp.text
    with Session(demo) as s:
        row = s.get(PartnerCampaign, pc)
        assert row is not None and row.send_at is None and row.state == "approved"


def test_another_partner_cannot_schedule_or_resume(
    portal: TestClient,  # noqa: F811
    pc: int,
    demo: Engine,
) -> None:
    _set(demo, pc, state="approved")
    for email in ("editor.berlin@northwind.example", "admin@contoso.example"):
        portal.cookies.clear()
        token = sign_in(portal, email)
        for path, data in (
            ("schedule", {"send_at": "2031-01-01T09:00"}),
            ("schedule", {"when": "now"}),
            ("resume", {}),
        ):
            resp = portal.post(
                f"/partner-campaigns/{pc}/{path}", data={"csrf_token": token, **data}
            )
            assert resp.status_code == 404, (email, path, resp.status_code)


# Resume ----------------------------------------------------------------------------------------


@dataclass
class FakeDescribed:
    async def memo_value(self, key: str, default: Any) -> Any:
        return {
            "reason": "SES refused: account paused",
            "kind": "transport",
            "since": "2027-01-12T08:00:00+00:00",
        }


@dataclass
class FakeHandle:
    signals: list[Any] = field(default_factory=list)

    async def describe(self, **_: Any) -> FakeDescribed:
        return FakeDescribed()

    async def signal(self, signal: Any, *args: Any) -> None:
        self.signals.append(signal)


@dataclass
class FakeTemporal:
    handle: FakeHandle = field(default_factory=FakeHandle)
    ids: list[str] = field(default_factory=list)

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        self.ids.append(workflow_id)
        return self.handle


def test_hq_resumes_a_paused_send_from_the_progress_fragment(
    settings: Settings, demo: Engine, blob_store: LocalBlobStore, pc: int
) -> None:
    _set(demo, pc, state="sending")
    fake = FakeTemporal()
    app = create_app(
        settings,
        engine=demo,
        temporal=LazyTemporalClient(settings, fake),  # type: ignore[arg-type]
        blob_store=blob_store,
    )
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        # The editor sees the pause but no button: resuming is HQ's (campaign_manage).
        token = sign_in(client, EDITOR_AMS)
        fragment = client.get(f"/partner-campaigns/{pc}/progress").text
        assert "Gepauzeerd: de e-maildienst weigerde te verzenden" in fragment
        assert 'action="/partner-campaigns/' not in fragment
        refused = client.post(f"/partner-campaigns/{pc}/resume", data={"csrf_token": token})
        assert refused.status_code == 403 and fake.handle.signals == []
        client.cookies.clear()
        token = sign_in(client, ADMIN)
        fragment = client.get(f"/partner-campaigns/{pc}/progress").text
        assert f'action="/partner-campaigns/{pc}/resume"' in fragment and 'id="resume"' in fragment
        no_csrf = client.post(f"/partner-campaigns/{pc}/resume")
        assert no_csrf.status_code == 403 and fake.handle.signals == []
        done = client.post(f"/partner-campaigns/{pc}/resume", data={"csrf_token": token})
        assert done.status_code == 303, done.text[:300]
        assert done.headers["location"] == f"/partner-campaigns/{pc}?done=resumed"
        assert fake.handle.signals == [SendWorkflow.resume]
        assert fake.ids[-1] == send_workflow_id(pc)
        # Nothing to resume once the send is over: said on the page, nothing signalled.
        _set(demo, pc, state="sent")
        over = client.post(f"/partner-campaigns/{pc}/resume", data={"csrf_token": token})
        assert over.status_code == 409 and "nothing to resume" in over.text
        assert fake.handle.signals == [SendWorkflow.resume]


# Through the workflow ----------------------------------------------------------------------------


def _browser(api: httpx.AsyncClient) -> httpx.AsyncClient:
    """A portal client on the same app (https: the session cookie is Secure)."""
    return httpx.AsyncClient(transport=api._transport, base_url="https://test")


async def _sign_in(client: httpx.AsyncClient, email: str) -> None:
    from scripts.demo.organisation import DEMO_PASSWORD

    page = await client.get("/login")
    resp = await client.post(
        "/login",
        data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token_of(page.text)},
    )
    assert resp.status_code == 303, resp.text


async def test_nine_in_amsterdam_is_stored_in_utc_and_shown_as_nine_then_send_now(
    app_with_worker: httpx.AsyncClient,
    login: Any,
    demo: Engine,
) -> None:
    api = app_with_worker
    cid, pcid = await launched(api, login, demo)
    try:
        await submit_content(api, login, EDITOR_AMS, pcid)
        approved = await act(api, login, GM_AMS, pcid, "decision", decision="approve")
        assert approved.json()["state"] == "approved", approved.text
        send_by = _send_by(demo, pcid)
        day = (send_by - timedelta(days=3)).astimezone(AMSTERDAM).date()
        typed = f"{day.isoformat()}T09:00"
        want = datetime(day.year, day.month, day.day, 9, tzinfo=AMSTERDAM).astimezone(UTC)
        if day.month in (11, 12, 1, 2):
            assert want.hour == 8  # winter: Amsterdam is UTC+1
        async with _browser(api) as portal:
            await _sign_in(portal, EDITOR_AMS)
            form = await portal.get(f"/partner-campaigns/{pcid}")
            token = token_of(form.text)
            saved = await portal.post(
                f"/partner-campaigns/{pcid}/schedule", data={"csrf_token": token, "send_at": typed}
            )
            assert saved.status_code == 303, saved.text[:500]
            row = pc_of(demo, cid, "amsterdam")
            assert row.state == "scheduled"
            assert row.send_at is not None and row.send_at.replace(tzinfo=UTC) == want
            read = await api.get(f"/api/v1/partner-campaigns/{pcid}", headers=login(EDITOR_AMS))
            assert datetime.fromisoformat(read.json()["send_at"]) == want
            page = (await portal.get(f"/partner-campaigns/{pcid}?done=scheduled")).text
            assert f'value="{typed}"' in page and "Verzendmoment opgeslagen." in page
            goes = page.split("Gaat op ", 1)[1].split("</p>", 1)[0]
            assert "09:00" in goes and "Europe/Amsterdam" in goes
            progress = (await portal.get(f"/partner-campaigns/{pcid}/progress")).text
            assert "09:00" in progress.split("Gaat op ", 1)[1].split("</p>", 1)[0]

            before = datetime.now(UTC)
            now = await portal.post(
                f"/partner-campaigns/{pcid}/schedule",
                data={"csrf_token": token, "when": "now", "send_at": "ignored"},
            )
            assert now.status_code == 303, now.text[:500]
            assert now.headers["location"].endswith("?done=sending_now")
            row = pc_of(demo, cid, "amsterdam")
            assert row.send_at is not None
            stored = row.send_at.replace(tzinfo=UTC)
            assert before < stored <= datetime.now(UTC) + send_time.LEAD
        async with _browser(api) as other:
            await _sign_in(other, "editor.berlin@northwind.example")
            page = await other.get("/inbox")
            refused = await other.post(
                f"/partner-campaigns/{pcid}/schedule",
                data={"csrf_token": token_of(page.text), "send_at": typed},
            )
            assert refused.status_code == 404
        assert pc_of(demo, cid, "amsterdam").send_at == row.send_at
    finally:
        await finish(api, login, demo, cid)
