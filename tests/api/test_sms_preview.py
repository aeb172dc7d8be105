"""POST /partner-campaigns/{id}/sms-preview (the live counter's figures) and the SMS and
language choices of the preview routes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from content.spec import TemplateContent
from models.campaigns import PartnerCampaign
from models.templates import TemplateVersion
from tests.approvals.test_api import campaign_row, open_day, partner_campaign

Login = Callable[[str], dict[str, str]]
EDITOR = "editor.amsterdam@northwind.example"
GM_BERLIN = "gm.berlin@northwind.example"
GM_AMS = "gm.amsterdam@northwind.example"
CONTOSO = "admin@contoso.example"


DAY = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
DATED = {"event_date": DAY}


@pytest.fixture
def pc(demo: Engine) -> int:
    row_id = partner_campaign(demo, campaign_row(demo, "gm", launched=True), "amsterdam")
    with Session(demo) as s:
        row = s.get(PartnerCampaign, row_id)
        assert row is not None
        row.values = dict(DATED)
        s.add(row)
        s.commit()
    return row_id


def url(pc: int) -> str:
    return f"/api/v1/partner-campaigns/{pc}/sms-preview"


def post(client: TestClient, login: Login, pc: int, body: Any, who: str = EDITOR) -> Any:
    """`body` with the event date every valid body needs (a required slot without default)."""
    if isinstance(body, dict) and isinstance(body.get("values"), dict):
        body = {**body, "values": {**DATED, **body["values"]}}
    return client.post(url(pc), json=body, headers=login(who))


def test_measures_unsaved_values_with_the_opt_out_line(
    client: TestClient, login: Login, pc: int
) -> None:
    resp = post(client, login, pc, {"values": {"offer": "Free coffee all day"}})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["text"].startswith("Hi Alex! Free coffee all day ")
    assert body["text"].endswith("Book now: https://northwind.example/open-day\nSTOP to opt out")
    assert body["encoding"] == "GSM-7" and body["segments"] == 1 and body["locale"] == "en"
    assert body["characters"] == len(body["text"])
    assert body["remaining"] == 160 - len(body["text"])


def test_language_and_per_language_values(client: TestClient, login: Login, pc: int) -> None:
    values = {"offer": {"de": "Kaffee gratis", "nl": "Gratis koffie"}}
    de = post(client, login, pc, {"values": values, "locale": "de"}).json()
    assert de["text"].startswith("Hallo Alex! Kaffee gratis ")
    assert de["text"].endswith("\nSTOP zum Abmelden") and de["locale"] == "de"
    # English was not given: the campaign's language (en) neither, so the first given.
    en = post(client, login, pc, {"values": values}).json()
    assert en["text"].startswith("Hi Alex! Kaffee gratis ")


def test_two_segments_and_ucs2(client: TestClient, login: Login, pc: int) -> None:
    long = (
        "Join on the day: your first month is free, and a friend trains with you for free all May!"
    )
    body = post(client, login, pc, {"values": {"offer": long}}).json()
    assert (body["encoding"], body["segments"]) == ("GSM-7", 2)
    emoji = post(client, login, pc, {"values": {"offer": "Free coffee ☕"}}).json()
    assert emoji["encoding"] == "UCS-2" and emoji["segments"] >= 2


@pytest.mark.parametrize(
    "payload", ["{{ 7*7 }}", "{% for x in range(3) %}x{% endfor %}", "<script>alert(1)</script>"]
)
def test_partner_text_is_data(client: TestClient, login: Login, pc: int, payload: str) -> None:
    body = post(client, login, pc, {"values": {"offer": {"en": payload}}}).json()
    assert payload in body["text"]
    assert "49" not in body["text"] and "xxx" not in body["text"]


def test_invalid_values_name_the_field(client: TestClient, login: Login, pc: int) -> None:
    resp = post(client, login, pc, {"values": {"offer": {"de": "x" * 121, "fr": "Bonjour"}}})
    assert resp.status_code == 422
    fields = {e["field"] for e in resp.json()["errors"]}
    assert fields == {"offer.de", "offer.fr"}
    resp = post(client, login, pc, {"values": {"nope": "x"}})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "nope"
    resp = post(client, login, pc, {"values": {}, "locale": "fr"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "locale"


@pytest.mark.parametrize(
    "body",
    [
        [],
        "values",
        {"values": []},
        {"values": {}, "locale": 5},
        {"values": {}, "locale": "x" * 50},
        {"values": {}, "extra": 1},
        {"values": {"offer": {"en": ["nested"]}}},
        {"values": {"offer": {"en": "x" * 60_000}}},
    ],
)
def test_malformed_bodies_are_422(client: TestClient, login: Login, pc: int, body: Any) -> None:
    resp = post(client, login, pc, body)
    assert resp.status_code == 422, resp.text


def test_a_huge_body_is_refused_before_parsing(client: TestClient, login: Login, pc: int) -> None:
    huge = {"values": {"offer": {"en": "x" * 3_000_000}}}
    resp = post(client, login, pc, huge)
    assert resp.status_code == 413


def test_tenant_boundary(client: TestClient, login: Login, pc: int) -> None:
    for who in (GM_BERLIN, CONTOSO):
        resp = post(client, login, pc, {"values": {}}, who)
        assert resp.status_code == 404, who
        assert "not found" in resp.text and "STOP" not in resp.text
    assert post(client, login, pc, {"values": {}}, GM_AMS).status_code == 200


def test_no_sms_variant(client: TestClient, login: Login, demo: Engine, pc: int) -> None:
    with Session(demo) as s:
        version = s.get(TemplateVersion, open_day(demo).id)
        assert version is not None
        content = TemplateContent.model_validate(version.content)
        version.content = content.model_copy(update={"sms": None}).model_dump(mode="json")
        s.add(version)
        s.commit()
    resp = post(client, login, pc, {"values": {}})
    assert resp.status_code == 422
    assert resp.json()["detail"] == "format: this template has no SMS variant"


def test_preview_route_sms_format_and_locale(client: TestClient, login: Login, pc: int) -> None:
    base = f"/api/v1/partner-campaigns/{pc}/preview"
    sms = client.get(f"{base}?format=sms&locale=nl", headers=login(EDITOR))
    assert sms.status_code == 200 and sms.headers["content-type"] == "application/json"
    assert sms.json()["text"].startswith("Hoi Alex! Word lid op de dag")
    text = client.get(f"{base}?format=text&locale=de", headers=login(EDITOR))
    assert text.status_code == 200 and "Hallo Alex," in text.text
    assert "Bis bald im Club!" in text.text
    assert client.get(f"{base}?locale=fr", headers=login(EDITOR)).status_code == 422


def test_template_sample_preview_in_every_language(
    client: TestClient, login: Login, demo: Engine
) -> None:
    version = open_day(demo)
    for locale, start in (("en", "Hi Alex!"), ("de", "Hallo Alex!"), ("nl", "Hoi Alex!")):
        resp = client.get(
            f"/api/v1/versions/{version.id}/preview?format=sms&locale={locale}",
            headers=login("marketing@northwind.example"),
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["text"].startswith(start)


def test_the_campaign_window_applies(client: TestClient, login: Login, pc: int) -> None:
    resp = post(client, login, pc, {"values": {"event_date": "2099-01-01"}})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "event_date"
