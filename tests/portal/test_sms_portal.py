"""The partner campaign page's variants and languages, the live SMS counter's route, the
per-language inputs, and the SMS beside the email for the GM and on the template page."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.datastructures import FormData

from api.portal import slot_form
from models.campaigns import PartnerCampaign
from models.templates import TemplateVersion
from scripts.demo.templates import open_day
from tests.approvals.test_api import campaign_row, partner_campaign
from tests.portal.test_portal import portal, sign_in  # noqa: F401  (the fixture)

EDITOR = "editor.amsterdam@northwind.example"
DAY = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()


@pytest.fixture
def pc(demo: Engine) -> int:
    row_id = partner_campaign(demo, campaign_row(demo, "gm", launched=True), "amsterdam")
    with Session(demo) as s:
        row = s.get(PartnerCampaign, row_id)
        assert row is not None
        row.values = {"event_date": DAY, "offer": {"en": "Free coffee", "nl": "Gratis koffie"}}
        s.add(row)
        s.commit()
    return row_id


def text(page: str) -> str:
    return html.unescape(page)


def test_the_page_shows_email_sms_and_print_per_language(portal: TestClient, pc: int) -> None:  # noqa: F811
    sign_in(portal, EDITOR)
    page = text(portal.get(f"/partner-campaigns/{pc}").text)
    # The page speaks the Amsterdam editor's Dutch; the messages, the recipients' languages.
    assert '<h3 class="variant">E-mail</h3>' in page and '<h3 class="variant">Sms</h3>' in page
    assert '<h3 class="variant">Drukwerk</h3>' not in page  # the open day has no print variant
    assert "Hi Alex! Free coffee " in page and "STOP to opt out" in page
    assert 'id="sms-counter" aria-live="polite">1 sms · GSM-7 · nog ' in page  # in Dutch
    assert f'data-sms-preview="/partner-campaigns/{pc}/sms-preview"' in page
    # The live counter's own words (sms_counter.js has no catalogue) come from the page.
    assert 'data-not-counted="Niet geteld: {reason}"' in page
    assert 'data-check-fields="controleer de velden hierboven"' in page
    for loc, name in (("en", "English"), ("de", "Deutsch"), ("nl", "Nederlands")):
        assert f'href="/partner-campaigns/{pc}?lang={loc}" lang="{loc}"' in page
        assert f'<label for="f-offer-{loc}" lang="{loc}">{name}</label>' in page
    assert 'value="Free coffee"' in page and 'value="Gratis koffie"' in page
    # German was not given: HQ's German offer stands in the German input.
    assert 'value="Melden Sie sich am Tag an: der erste Monat ist gratis."' in page
    nl = text(portal.get(f"/partner-campaigns/{pc}?lang=nl").text)
    assert "Hoi Alex! Gratis koffie " in nl and "STOP om af te melden" in nl
    assert 'lang="nl" aria-current="true"' in nl
    # An unknown language falls back to the campaign's.
    assert "Hi Alex! Free coffee" in text(portal.get(f"/partner-campaigns/{pc}?lang=xx").text)


def test_live_counter_route(portal: TestClient, pc: int) -> None:  # noqa: F811
    token = sign_in(portal, EDITOR)
    form = {
        "slot__event_date": DAY,
        "slot__offer__en": "x" * 100,
        "preview_locale": "en",
    }
    resp = portal.post(
        f"/partner-campaigns/{pc}/sms-preview", data=form, headers={"X-CSRF-Token": token}
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["segments"] == 2 and body["counter"].startswith("2 sms · GSM-7 · nog ")
    assert "x" * 100 in body["text"]
    german = portal.post(
        f"/partner-campaigns/{pc}/sms-preview",
        data={**form, "slot__offer__de": "{{ 7*7 }}", "preview_locale": "de"},
        headers={"X-CSRF-Token": token},
    ).json()
    assert german["text"].startswith("Hallo Alex! {{ 7*7 }} ") and german["locale"] == "de"
    bad = portal.post(
        f"/partner-campaigns/{pc}/sms-preview",
        data={**form, "slot__offer__de": "y" * 200},
        headers={"X-CSRF-Token": token},
    )
    assert bad.status_code == 422
    assert bad.json()["reasons"] == [  # in the Amsterdam editor's language
        "Lokaal aanbod (de): mag maximaal 120 tekens hebben (je hebt er 200)."
    ]
    no_csrf = portal.post(f"/partner-campaigns/{pc}/sms-preview", data=form)
    assert no_csrf.status_code == 403


def test_another_partner_gets_404(portal: TestClient, pc: int) -> None:  # noqa: F811
    token = sign_in(portal, "editor.berlin@northwind.example")
    resp = portal.post(
        f"/partner-campaigns/{pc}/sms-preview",
        data={"slot__event_date": DAY},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status_code == 404 and "STOP" not in resp.text


def test_refused_language_is_named_next_to_its_input(portal: TestClient, pc: int) -> None:  # noqa: F811
    token = sign_in(portal, EDITOR)
    resp = portal.post(
        f"/partner-campaigns/{pc}/content",
        data={
            "csrf_token": token,
            "action": "save",
            "slot__event_date": DAY,
            "slot__offer__en": "Fine",
            "slot__offer__nl": "cheap " + "z" * 130,
        },
    )
    assert resp.status_code == 422
    page = text(resp.text)
    assert 'id="f-offer-nl-error"><p>Lokaal aanbod (nl): mag maximaal 120 tekens hebben' in page
    assert 'id="f-offer-nl" name="slot__offer__nl" lang="nl" aria-describedby=' in page
    assert 'value="Fine"' in page  # what was typed is kept


def test_values_from_the_form() -> None:
    content = open_day()
    form = FormData(
        [
            ("slot__offer__en", " Hello "),
            ("slot__offer__de", ""),
            ("slot__offer__nl", "Hoi"),
            ("slot__offer__fr", "ignored"),
            ("slot__headline", "Open"),
        ]
    )
    values = slot_form.values_from(form, content)
    assert values == {"offer": {"en": "Hello", "nl": "Hoi"}, "headline": "Open"}
    assert slot_form.values_from(FormData([("slot__offer__de", " ")]), content) == {}
    assert slot_form.values_from(FormData([("slot__offer", "All")]), content) == {"offer": "All"}
    assert slot_form.shown({"en": "A", "nl": "B"}) == "en: A · nl: B"


def test_gm_sees_the_sms_next_to_the_email(portal: TestClient, demo: Engine, pc: int) -> None:  # noqa: F811
    with Session(demo) as s:
        row = s.get(PartnerCampaign, pc)
        assert row is not None
        row.state = "pending_approval"
        s.add(row)
        s.commit()
    sign_in(portal, "gm.amsterdam@northwind.example")
    page = text(portal.get(f"/partner-campaigns/{pc}").text)
    assert "Wat ontvangers krijgen" in page  # the Amsterdam GM's Dutch
    assert "De sms hieronder gaat naar contacten die sms verkiezen: goedkeuren keurt" in page
    assert "Hi Alex! Free coffee " in page and "<iframe" in page
    assert "data-sms-preview" not in page  # nothing typed here: no live counter
    assert "en: Free coffee · nl: Gratis koffie" in page  # what changed from HQ's text


def test_template_page_shows_the_sample_sms(portal: TestClient, demo: Engine) -> None:  # noqa: F811
    with Session(demo) as s:
        version = s.exec(
            select(TemplateVersion).where(TemplateVersion.state == "published")
        ).first()
        assert version is not None
        vid = version.id
    sign_in(portal, "marketing@northwind.example")
    page = text(portal.get(f"/templates/versions/{vid}").text)
    assert "<iframe" in page
    assert "Hi Alex! Join on the day and get your first month free." in page
    assert "1 SMS · GSM-7 · " in page
