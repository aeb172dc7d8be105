"""Messages services produce reach the portal in the reader's language (core.said), while the
API's JSON keeps the English: a missing object, a contact import's row report, an approval
policy's wording, a refused print order or claim form, and the member preference centre."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.settings import Settings
from models.contacts import Contact
from models.org import Partner, User
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


IMPORT = (
    "email,name,consent_status,consent_source,channel\n"
    'bad@example.com,"<img src=x onerror=alert(1)>{{ 7*7 }}",maybe,,\n'
    "not an email,Nobody,granted,desk,\n"
    "ok@example.com,Ok,granted,desk,sms\n"
)


@pytest.mark.parametrize(
    "email,slug,shown",
    [
        (
            AMSTERDAM,
            "amsterdam",
            [
                "onbekende consent_status &#39;maybe&#39; (granted, denied of unknown)",
                "ongeldig e-mailadres: &#39;not an email&#39; is geen e-mailadres",
                "channel: sms heeft een telefoonnummer nodig",
            ],
        ),
        (
            HAMBURG,
            "hamburg",
            [
                "unbekannter consent_status &#39;maybe&#39; (granted, denied oder unknown)",
                "ungültige E-Mail-Adresse: &#39;not an email&#39; ist keine E-Mail-Adresse",
                "channel: SMS braucht eine Telefonnummer",
            ],
        ),
    ],
)
def test_an_imports_row_report_is_in_the_readers_language(
    portal: TestClient,
    demo: Engine,
    login: Callable[[str], dict[str, str]],
    email: str,
    slug: str,
    shown: list[str],
) -> None:
    token = sign_in(portal, email)
    with Session(demo) as s:
        pid = s.exec(select(Partner.id).where(Partner.slug == slug)).one()
    files = {"file": ("c.csv", IMPORT.encode(), "text/csv")}
    page = portal.post(
        "/contacts/import", data={"csrf_token": token, "partner_id": str(pid)}, files=files
    )
    assert page.status_code == 200, page.text[:500]
    for text in shown:
        assert text in page.text
    assert "unknown consent_status" not in page.text and "bad email" not in page.text
    assert "<img src=x" not in page.text
    files = {"file": ("c.csv", IMPORT.encode(), "text/csv")}
    api = portal.post(f"/api/v1/partners/{pid}/contacts/import", files=files, headers=login(email))
    reasons = [r for row in api.json()["rows"] for r in row["reasons"]]
    assert reasons == [
        "unknown consent_status 'maybe' (granted, denied or unknown)",
        "bad email: 'not an email' is not an email address",
        "channel: sms needs a phone number",
    ]


def test_an_unusable_file_says_why_in_the_readers_language(
    portal: TestClient, demo: Engine
) -> None:
    token = sign_in(portal, HAMBURG)
    with Session(demo) as s:
        pid = s.exec(select(Partner.id).where(Partner.slug == "hamburg")).one()
    files = {"file": ("c.csv", b"mail,phone_number\nx@example.com,1\n", "text/csv")}
    page = portal.post(
        "/contacts/import", data={"csrf_token": token, "partner_id": str(pid)}, files=files
    )
    assert page.status_code == 422
    assert "Die Datei hat unbekannte Spalten &#39;mail&#39;, &#39;phone_number&#39;" in page.text


ADMIN = "admin@northwind.example"
BUDGET = {"fact": "budget", "op": "gt", "value": 50000}
POLICY = {
    "stages": [
        {"name": "gm", "approvers": [{"role": "partner_gm"}]},
        {
            "name": "region",
            "label": "<b>Regio</b>{{ 7*7 }}",
            "approvers": [{"role": "region_manager"}, {"role": "brand_reviewer"}],
            "rule": "all",
            "when": BUDGET,
            "timeouts": [{"after": 86400, "action": "remind"}],
        },
    ]
}


def _speaks(demo: Engine, email: str, locale: str) -> None:
    with Session(demo) as s:
        user = s.exec(select(User).where(User.email == email)).one()
        user.locale = locale
        s.add(user)
        s.commit()


@pytest.mark.parametrize(
    "locale,shown",
    [
        (
            "de",
            [
                "Nur wenn Budget über 50000; sonst übersprungen",
                "Alle von: die Regionalleitung, eine Markenprüfung",
                "Budget über 50000?",
                "eine Person von: der GM des Partners",
            ],
        ),
        (
            "nl",
            [
                "budget boven 50000",
                "Allemaal: de regiomanager",
                "één van: de GM van de partner",
            ],
        ),
    ],
)
def test_a_policys_wording_is_in_the_readers_language(
    portal: TestClient,
    demo: Engine,
    login: Callable[[str], dict[str, str]],
    locale: str,
    shown: list[str],
) -> None:
    made = portal.post(
        "/api/v1/approval-policies",
        json={"name": "Budget check", "spec": POLICY},
        headers=login(ADMIN),
    )
    assert made.status_code == 201, made.text
    _speaks(demo, ADMIN, locale)
    sign_in(portal, ADMIN)
    page = portal.get(f"/approval-policies/{made.json()['id']}")
    assert page.status_code == 200
    for text in shown:
        assert text in page.text, text
    for english in ("budget above", "all of:", "any one of:", "the region manager"):
        assert english not in page.text
    assert "&lt;b&gt;Regio&lt;/b&gt;{{ 7*7 }}" in page.text and "<b>Regio" not in page.text
    drawn = portal.get(
        f"/api/v1/approval-policies/{made.json()['id']}/diagram", headers=login(ADMIN)
    ).json()
    assert drawn["stages"][1]["when"] == "budget above 50000"
    assert drawn["stages"][1]["approvers"][0]["name"] == "the region manager"
    assert "all of: the region manager, a brand reviewer" in drawn["mermaid"]


@pytest.mark.parametrize(
    "locale,label,stage",
    [
        ("de", "Der GM, dann die Zentrale", "Markenprüfung"),
        ("nl", "De GM, dan het hoofdkantoor", "Merkbeoordeling"),
    ],
)
def test_the_built_in_policies_read_in_the_readers_language(
    portal: TestClient, demo: Engine, locale: str, label: str, stage: str
) -> None:
    _speaks(demo, ADMIN, locale)
    sign_in(portal, ADMIN)
    listed = portal.get("/approval-policies").text
    assert label in listed and "The GM, then HQ" not in listed
    page = portal.get("/approval-policies/built-in/gm_then_hq").text
    assert label in page and stage in page and "Brand review" not in page
