"""Messages services produce reach the portal in the reader's language (core.said), while the
API's JSON keeps the English: a missing object, a contact import's row report, an approval
policy's wording, a refused print order or claim form, and the member preference centre."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from core.settings import Settings
from models.contacts import Contact
from tests.engagement.test_preferences import contact_in, path_for
from tests.portal.test_portal import portal, sign_in

__all__ = ["portal"]

HAMBURG = "editor.hamburg@northwind.example"
AMSTERDAM = "editor.amsterdam@northwind.example"


@pytest.mark.parametrize(
    "email,shown",
    [
        (HAMBURG, "Erstattungsantrag 999999999 nicht gefunden"),
        (AMSTERDAM, "claim 999999999 niet gevonden"),
    ],
)
def test_a_missing_object_is_named_in_the_readers_language(
    portal: TestClient, login: Callable[[str], dict[str, str]], email: str, shown: str
) -> None:
    sign_in(portal, email)
    page = portal.get("/claims/999999999")
    assert page.status_code == 404
    assert shown in page.text and "not found" not in page.text
    api = portal.get("/api/v1/claims/999999999", headers=login(email))
    assert api.status_code == 404
    assert api.json()["detail"] == "claim 999999999 not found"


@pytest.mark.parametrize(
    "locale,held,offered,english",
    [
        ("nl", "Nederlands", ["Engels", "Duits", "Nederlands"], ">German<"),
        ("de-AT", "Deutsch (Österreich)", ["Englisch", "Deutsch", "Niederländisch"], ">Dutch<"),
    ],
)
def test_the_preference_centre_names_languages_in_the_members_language(
    client: TestClient,
    demo: Engine,
    settings: Settings,
    locale: str,
    held: str,
    offered: list[str],
    english: str,
) -> None:
    contact = contact_in(demo, "amsterdam", "taal@example.com")
    with Session(demo) as s:
        row = s.get(Contact, contact.id)
        assert row is not None
        row.locale = locale
        s.add(row)
        s.commit()
    page = client.get(path_for(settings, contact)).text
    assert held in page
    for name in offered:
        assert f">{name}</option>" in page
    assert english not in page and ">English<" not in page
