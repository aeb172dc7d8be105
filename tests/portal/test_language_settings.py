"""The portal in the partner's language, and a person's own language and time zone: the
settings page and /api/v1/me/preferences (each person their own only, bad values named)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from models.audit import AuditEvent
from models.org import Brand, User
from tests.portal.test_portal import portal, sign_in

__all__ = ["portal"]


def _user(demo: Engine, email: str) -> User:
    with Session(demo) as session:
        return session.exec(select(User).where(User.email == email)).one()


@pytest.mark.parametrize(
    ("email", "path", "spoken", "english"),
    [
        ("editor.hamburg@northwind.example", "/my-campaigns", "Meine Kampagnen", "My campaigns"),
        ("editor.hamburg@northwind.example", "/settings", "Sprache und Zeitzone", "Delegation"),
        ("editor.amsterdam@northwind.example", "/my-campaigns", "Mijn campagnes", "My campaigns"),
        ("editor.amsterdam@northwind.example", "/settings", "Taal en tijdzone", "Stand-in"),
        ("gm.amsterdam@northwind.example", "/series", "Campagnereeksen", "Campaign series"),
        ("gm.hamburg@northwind.example", "/journeys", "Customer Journeys", "Switched on"),
    ],
)
def test_partner_pages_speak_the_partner_language(
    portal: TestClient, email: str, path: str, spoken: str, english: str
) -> None:
    sign_in(portal, email)
    page = portal.get(path)
    assert page.status_code == 200
    assert spoken in page.text
    # The navigation (base.html) is another area's; the page's own words are checked.
    main = page.text.split("<main", 1)[1]
    assert f">{english}<" not in main


def test_settings_show_the_language_in_use_and_why(portal: TestClient) -> None:
    sign_in(portal, "editor.amsterdam@northwind.example")
    page = portal.get("/settings").text
    in_use = page.split('id="in-use">')[1].split("</p>")[0]
    partner = "(van je partner Northwind Fitness Amsterdam)"
    assert in_use.startswith(f"Nu in gebruik: Nederlands {partner}")
    assert f"(Europe/Amsterdam) {partner}" in in_use


def test_choosing_english_makes_the_next_page_english(portal: TestClient, demo: Engine) -> None:
    token = sign_in(portal, "editor.hamburg@northwind.example")
    assert "Meine Kampagnen" in portal.get("/my-campaigns").text
    resp = portal.post(
        "/settings/preferences",
        data={"locale": "en", "timezone": "Europe/Lisbon", "csrf_token": token},
    )
    assert resp.status_code == 303
    assert "Language and time zone saved." in portal.get(resp.headers["location"]).text
    assert "<h1>My campaigns</h1>" in portal.get("/my-campaigns").text
    user = _user(demo, "editor.hamburg@northwind.example")
    assert (user.locale, user.timezone) == ("en", "Europe/Lisbon")
    with Session(demo) as session:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.action == "user.preferences_updated")
        ).all()
    assert len(events) == 1
    # Back to automatic: the partner's German again.
    portal.post("/settings/preferences", data={"locale": "", "timezone": "", "csrf_token": token})
    assert "Meine Kampagnen" in portal.get("/my-campaigns").text


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"locale": "fr", "timezone": ""}, "locale", "Sprache: "),
        ({"locale": "", "timezone": "Mars/Olympus"}, "timezone", "Zeitzone: "),
        ({"locale": "{{ 7*7 }}", "timezone": "<script>x</script>"}, "locale", "Sprache: "),
    ],
)
def test_unknown_values_are_refused_naming_the_field(
    portal: TestClient, demo: Engine, data: dict[str, str], field: str, message: str
) -> None:
    token = sign_in(portal, "editor.hamburg@northwind.example")
    resp = portal.post("/settings/preferences", data={**data, "csrf_token": token})
    assert resp.status_code == 422
    assert f'id="e-{field}"' in resp.text
    assert message in resp.text
    assert "<script>x" not in resp.text
    user = _user(demo, "editor.hamburg@northwind.example")
    assert (user.locale, user.timezone) == ("", "")


def test_the_preferences_form_needs_the_csrf_token(portal: TestClient, demo: Engine) -> None:
    sign_in(portal, "editor.hamburg@northwind.example")
    resp = portal.post("/settings/preferences", data={"locale": "en", "timezone": ""})
    assert resp.status_code == 403
    assert _user(demo, "editor.hamburg@northwind.example").locale == ""


def test_brand_admins_set_the_brand_time_zone(portal: TestClient, demo: Engine) -> None:
    token = sign_in(portal, "admin@northwind.example")
    page = portal.get("/settings").text
    assert 'name="brand_timezone"' in page
    bad = portal.post(
        "/settings/brand-timezone", data={"brand_timezone": "Nowhere/Land", "csrf_token": token}
    )
    assert bad.status_code == 422
    assert 'id="e-brand_timezone"' in bad.text
    resp = portal.post(
        "/settings/brand-timezone",
        data={"brand_timezone": "Europe/Amsterdam", "csrf_token": token},
    )
    assert resp.status_code == 303
    with Session(demo) as session:
        brand = session.exec(select(Brand).where(Brand.slug == "northwind")).one()
    assert brand.timezone == "Europe/Amsterdam"


def test_others_may_not_set_the_brand_time_zone(portal: TestClient, demo: Engine) -> None:
    token = sign_in(portal, "gm.amsterdam@northwind.example")
    assert 'name="brand_timezone"' not in portal.get("/settings").text
    with Session(demo) as session:
        before = session.exec(select(Brand).where(Brand.slug == "northwind")).one().timezone
    resp = portal.post(
        "/settings/brand-timezone", data={"brand_timezone": "Asia/Tokyo", "csrf_token": token}
    )
    assert resp.status_code == 403
    with Session(demo) as session:
        after = session.exec(select(Brand).where(Brand.slug == "northwind")).one().timezone
    assert after == before


def test_api_reads_and_changes_only_the_own_preferences(
    client: TestClient, demo: Engine, login: Callable[[str], dict[str, str]]
) -> None:
    headers = login("editor.amsterdam@northwind.example")
    read = client.get("/api/v1/me/preferences", headers=headers).json()
    assert read == {
        "locale": "",
        "timezone": "",
        "locale_in_use": "nl",
        "timezone_in_use": "Europe/Amsterdam",
        "locale_source": "partner",
        "timezone_source": "partner",
    }
    changed = client.patch("/api/v1/me/preferences", json={"locale": "de"}, headers=headers).json()
    assert (changed["locale"], changed["locale_in_use"], changed["timezone"]) == ("de", "de", "")
    # Nothing in the body names another user: the editor's colleague is untouched.
    assert _user(demo, "gm.amsterdam@northwind.example").locale == ""
    assert _user(demo, "editor.amsterdam@northwind.example").locale == "de"
    refused = client.patch(
        "/api/v1/me/preferences", json={"user_id": 1, "locale": "en"}, headers=headers
    )
    assert refused.status_code == 422
    assert _user(demo, "editor.amsterdam@northwind.example").locale == "de"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"locale": "fr"}, "locale"), ({"timezone": "Europe/Atlantis"}, "timezone")],
)
def test_api_names_the_bad_field(
    client: TestClient, login: Callable[[str], dict[str, str]], body: dict[str, str], field: str
) -> None:
    resp = client.patch(
        "/api/v1/me/preferences", json=body, headers=login("gm.hamburg@northwind.example")
    )
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == field


def test_hq_gets_the_browser_language_and_the_brand_zone(
    client: TestClient, login: Callable[[str], dict[str, str]]
) -> None:
    headers = {**login("marketing@northwind.example"), "Accept-Language": "nl-NL,nl;q=0.9"}
    read = client.get("/api/v1/me/preferences", headers=headers).json()
    assert (read["locale_in_use"], read["locale_source"]) == ("nl", "browser")
    assert read["timezone_source"] in ("brand", "default")
