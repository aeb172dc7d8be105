"""The member's own pages (unsubscribe, preference centre) speak the member's language: the
contact's, else the club's; a link that names nobody answers in the browser's language.
Names stay data in every language."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from core.settings import Settings
from models.contacts import Contact
from services.engagement.unsubscribe import unsubscribe_url
from tests.engagement.test_preferences import NAME, path_for
from tests.engagement.test_preferences import contact_in as english_contact


def contact_in(engine: Engine, slug: str, email: str, *, locale: str) -> Contact:
    """A contact of `slug` speaking `locale` ("" for none of their own)."""
    contact = english_contact(engine, slug, email)
    with Session(engine) as s:
        row = s.get(Contact, contact.id)
        assert row is not None
        row.locale = locale
        s.add(row)
        s.commit()
    contact.locale = locale
    return contact


def _unsubscribe_path(settings: Settings, brand_id: int, partner_id: int, contact_id: int) -> str:
    url = unsubscribe_url(settings, brand_id, partner_id, contact_id)
    return url.removeprefix(settings.public_base_url.rstrip("/"))


def test_the_unsubscribe_page_speaks_dutch_to_a_dutch_member(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    contact = contact_in(demo, "amsterdam", "sanne@customers.example", locale="nl")
    path = _unsubscribe_path(settings, contact.brand_id, contact.partner_id, contact.id or 0)
    page = client.get(path)
    assert page.status_code == 200
    assert '<html lang="nl">' in page.text
    assert "Afmelden bij Northwind Fitness Amsterdam?" in page.text
    assert "wil je geen e-mails meer van" in page.text and ">Afmelden</button>" in page.text
    assert "Unsubscribe" not in page.text and "<img src=x" not in page.text
    done = client.post(path)
    assert "Je bent afgemeld" in done.text


def test_the_unsubscribe_page_speaks_the_clubs_language_when_the_member_has_none(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    contact = contact_in(demo, "hamburg", "jonas@customers.example", locale="")
    path = _unsubscribe_path(settings, contact.brand_id, contact.partner_id, contact.id or 0)
    page = client.get(path)
    assert '<html lang="de">' in page.text and "möchten Sie keine E-Mails mehr" in page.text


def test_an_unknown_link_answers_in_the_browsers_language(client: TestClient) -> None:
    page = client.get("/u/not-a-token", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert page.status_code == 404 and "Link nicht gefunden" in page.text


def test_the_preference_centre_speaks_german_to_a_german_member(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    contact = contact_in(demo, "amsterdam", "klaus@customers.example", locale="de")
    page = client.get(path_for(settings, contact))
    assert page.status_code == 200
    assert '<html lang="de">' in page.text and "Ihre Einstellungen" in page.text
    assert "Sprache speichern" in page.text and "Meine Daten löschen" in page.text
    assert "Consent to email" not in page.text and "(none)" not in page.text
    assert NAME not in page.text and "&lt;img" in page.text  # the name stays data
    # Choosing Dutch answers in Dutch.
    saved = client.post(path_for(settings, contact) + "/language", data={"language": "nl"})
    assert "Je taal is opgeslagen." in saved.text and '<html lang="nl">' in saved.text
