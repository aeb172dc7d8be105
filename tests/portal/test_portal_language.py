"""The portal speaks the reader's language and shows times in the reader's zone: a partner's
users read their partner's language (Hamburg German, Amsterdam Dutch), the sign-in page follows
the browser, state names read as words, and dates typed into a form are read on the reader's
wall clock. Partner text stays text inside translated sentences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.portal.web import env
from domain.states import TemplateState
from i18n.context import speaking
from i18n.labels import state_label
from models.campaigns import Campaign
from models.org import Brand, User
from models.templates import TemplateVersion
from tests.portal.test_portal import portal, sign_in, token_of

__all__ = ["portal"]

HAMBURG = "editor.hamburg@northwind.example"
AMSTERDAM = "editor.amsterdam@northwind.example"
PAYLOAD = '<script>alert("x")</script>{{ 7*7 }}{% raw %}'

# Per page: words the translation shows, and the English source text it replaces.
GERMAN = {
    "/catalogue": (
        ["Kampagnenkatalog", "Ihre Bestellungen"],
        ["Campaign catalogue", "Your orders"],
    ),
    "/claims": (["Erstattungsanträge", "Anzeigen"], [">Claims</h1>", ">Show<"]),
    "/assets": (["Medien", "Suche", "Filtern"], [">Search<", ">Filter<"]),
}
DUTCH = {
    "/catalogue": (["Campagnecatalogus", "Je bestellingen"], ["Campaign catalogue", "Your orders"]),
    "/claims": (["Claims", "Tonen"], [">Show<", "No claims yet"]),
    "/assets": (["Media", "Zoeken", "Filteren"], [">Search<", ">Filter<"]),
}


@pytest.mark.parametrize(
    "email,lang,zone,pages,frame",
    [
        (HAMBURG, "de", "Europe/Berlin", GERMAN, ["Posteingang", "Zeiten in", "Abmelden"]),
        (AMSTERDAM, "nl", "Europe/Amsterdam", DUTCH, ["Inbox", "Tijden in", "Afmelden"]),
    ],
)
def test_a_partner_user_reads_the_partners_language(
    portal: TestClient,
    email: str,
    lang: str,
    zone: str,
    pages: dict[str, tuple[list[str], list[str]]],
    frame: list[str],
) -> None:
    sign_in(portal, email)
    for path, (shown, gone) in pages.items():
        page = portal.get(path)
        assert page.status_code == 200, (path, page.text)
        assert f'<html lang="{lang}">' in page.text
        for text in [*shown, *frame, zone]:
            assert text in page.text, (path, text)
        for text in [*gone, "Sign out", "Times in"]:
            assert text not in page.text, (path, text)


def test_a_refusal_reads_in_the_partners_language(portal: TestClient) -> None:
    sign_in(portal, HAMBURG)
    missing = portal.get("/claims/999999999")
    assert missing.status_code == 404
    assert "Nicht gefunden" in missing.text and "Zurück zum Posteingang" in missing.text
    assert "Back to your inbox" not in missing.text
    refused = portal.get("/campaigns")  # an editor has no campaign.read
    assert refused.status_code == 403
    assert (
        "Nicht erlaubt" in refused.text
        and "Ihre Rollen erlauben diese Seite nicht." in refused.text
    )


def test_the_users_own_choice_wins_over_the_partners(portal: TestClient, demo: Engine) -> None:
    with Session(demo) as s:
        user = s.exec(select(User).where(User.email == HAMBURG)).one()
        user.locale = "nl"
        s.add(user)
        s.commit()
    sign_in(portal, HAMBURG)
    page = portal.get("/catalogue").text
    assert "Campagnecatalogus" in page and "Kampagnenkatalog" not in page


@pytest.mark.parametrize(
    "accept,heading,button",
    [
        ("de-DE,de;q=0.9,en;q=0.5", "Anmelden", "Passwort"),
        ("nl-NL,nl;q=0.9", "Aanmelden", "Wachtwoord"),
        ("fr-FR,fr;q=0.9", "Sign in", "Password"),
        ("", "Sign in", "Password"),
    ],
)
def test_the_sign_in_page_follows_the_browser(
    portal: TestClient, accept: str, heading: str, button: str
) -> None:
    headers = {"Accept-Language": accept} if accept else {}
    page = portal.get("/login", headers=headers)
    assert page.status_code == 200
    assert f"<h1>{heading}</h1>" in page.text and f">{button}</label>" in page.text
    failed = portal.post(
        "/login",
        headers=headers,
        data={"email": "nobody@example.com", "password": "x", "csrf_token": token_of(page.text)},
    )
    assert failed.status_code == 401
    if heading == "Anmelden":
        assert "E-Mail-Adresse oder Passwort falsch" in failed.text
    elif heading == "Aanmelden":
        assert "E-mailadres of wachtwoord onjuist" in failed.text
    else:
        assert "Incorrect email or password" in failed.text


def test_state_names_read_as_words_and_keep_their_css_class() -> None:
    assert state_label("pending_approval") == "Waiting for approval"
    with speaking("de"):
        assert state_label("pending_approval") == "Wartet auf Freigabe"
        assert state_label("something_new") == "Something new"
    with speaking("nl"):
        assert state_label(TemplateState.published) == "Gepubliceerd"
    html = env.from_string('<span class="badge {{ s }}">{{ s|state_label }}</span>')
    with speaking("de"):
        assert html.render(s="changes_requested") == (
            '<span class="badge changes_requested">Änderungen angefordert</span>'
        )


def _order(**changes: object) -> SimpleNamespace:
    values: dict[str, object] = {
        "item_title": "Spring sale",
        "partner_name": "Northwind Hamburg",
        "personalise_until": datetime(2027, 1, 15, 8, 0, tzinfo=UTC),
        "send_by": datetime(2027, 1, 20, 23, 30, tzinfo=UTC),
        "state": "drafting",
        "form_url": "",
    }
    return SimpleNamespace(**{**values, **changes})


def test_times_are_in_the_readers_zone_and_language() -> None:
    page = env.get_template("catalogue_order.html")
    with speaking("de", "Europe/Berlin"):
        german = page.render(o=_order())
    # 08:00 UTC is 09:00 in Berlin; 23:30 UTC on the 20th is already the 21st there.
    assert "bis 15.01.2027, 09:00 personalisiert" in german
    assert "21.01.2027" in german and "UTC" not in german
    assert "Wird personalisiert" in german
    with speaking("nl", "Europe/Amsterdam"):
        dutch = page.render(o=_order())
    assert "tot 15 jan 2027, 09:00" in dutch and "UTC" not in dutch


def test_partner_text_inside_a_translated_sentence_stays_text() -> None:
    page = env.get_template("catalogue_order.html")
    with speaking("de", "Europe/Berlin"):
        html = page.render(o=_order(item_title=PAYLOAD, partner_name=PAYLOAD))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;{{ 7*7 }}{% raw %}" in html
    assert "49" not in html


def test_a_campaigns_dates_are_typed_on_the_readers_wall_clock(
    portal: TestClient, demo: Engine
) -> None:
    """HQ in a brand set to Berlin: the form names the zone, and 09:00 typed is 09:00 there."""
    with Session(demo) as s:
        brand = s.exec(select(Brand).where(Brand.slug == "northwind")).one()
        brand.timezone = "Europe/Berlin"
        s.add(brand)
        version = s.exec(
            select(TemplateVersion)
            .where(
                TemplateVersion.brand_id == brand.id,
                TemplateVersion.state == TemplateState.published,
            )
            .order_by(col(TemplateVersion.id))
        ).first()
        assert version is not None
        s.commit()
        version_id = version.id
    token = sign_in(portal, "marketing@northwind.example")
    form = portal.get("/campaigns/new")
    assert "(Europe/Berlin)" in form.text and "(UTC)" not in form.text
    day = (datetime.now(UTC) + timedelta(days=40)).date()
    created = portal.post(
        "/campaigns",
        data={
            "csrf_token": token,
            "name": "Wall clock",
            "template_version_id": str(version_id),
            "target_kind": "all",
            "personalise_until": f"{day}T09:00",
            "send_by": f"{day + timedelta(days=5)}T09:00",
            "mode": "opt_in",
            "approval_policy": "gm",
            "remind_after": "2",
            "escalate_after": "4",
        },
    )
    assert created.status_code == 303, created.text
    with Session(demo) as s:
        campaign = s.exec(select(Campaign).where(Campaign.name == "Wall clock")).one()
        until = campaign.personalise_until
    until = until if until.tzinfo else until.replace(tzinfo=UTC)
    berlin = until.astimezone(ZoneInfo("Europe/Berlin"))
    assert (berlin.date(), berlin.hour, berlin.minute) == (day, 9, 0)
    page = portal.get(created.headers["location"]).text
    assert "09:00" in page and "Europe/Berlin" in page
