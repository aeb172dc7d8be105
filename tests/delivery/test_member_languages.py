"""A member's email speaks the member's language throughout: HQ's texts, the template's fixed
words (greeting, button, footer, unsubscribe and preference links) and the date, written out
as people write it in that language, never ISO. A language the template lacks falls back to
the template's first language, as before."""

from __future__ import annotations

import uuid
from email.message import EmailMessage

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from core.settings import Settings
from models.contacts import Contact
from tests.delivery.test_delivery import (
    ScriptedTransport,
    _partner,
    approved_row,
    make_segment,
    send_all,
    snapshot,
)

SATURDAY = "2027-01-16"
# The template's English fixed words and the English date: none may reach a Dutch or German
# member.
ENGLISH = [
    "Hi ",
    "Book your visit",
    "Reserve a spot",
    "Book now",
    "See you at the club",
    "When:",
    "Unsubscribe",
    "Your preferences",
    "Saturday",
    "January",
    "Open day at your club",
]
EXPECTED = {
    "nl": [
        "Hoi Jonas,",
        "Wanneer: zaterdag 16 januari 2027",
        "Reserveer een plek",
        "Tot ziens in de club!",
        "Afmelden",
        "Je voorkeuren",
        "Open dag in jouw club",
    ],
    "de": [
        "Hallo Jonas,",
        "Wann: Samstag, 16. Januar 2027",
        "Platz reservieren",
        "Bis bald im Club!",
        "Abmelden",
        "Ihre Einstellungen",
    ],
    "en": [
        "Hi Jonas,",
        "When: Saturday, 16 January 2027",
        "Reserve a spot",
        "See you at the club!",
        "Unsubscribe",
        "Your preferences",
    ],
}


def _member(engine: Engine, locale: str, tag: str) -> str:
    email = f"jonas.{locale or 'none'}.{uuid.uuid4().hex[:6]}@customers.example"
    with Session(engine) as s:
        partner = _partner(s, "amsterdam")
        s.add(
            Contact(
                brand_id=partner.brand_id,
                partner_id=partner.id or 0,
                email=email,
                name="Jonas Visser",
                locale=locale,
                consent_status="granted",
                tags=[tag],
            )
        )
        s.commit()
    return email


def _send(engine: Engine, settings: Settings, locale: str, **values: str) -> EmailMessage:
    tag = f"lang-{uuid.uuid4().hex[:6]}"
    _member(engine, locale, tag)
    given = {"event_date": SATURDAY, "cta_label": "Reserve a spot", **values}
    pcid = approved_row(engine, given, make_segment(engine, "amsterdam", tag))
    snapshot(engine, pcid)
    transport = ScriptedTransport()
    send_all(engine, settings, transport, pcid)
    [msg] = transport.sent
    return msg


def _parts(msg: EmailMessage) -> tuple[str, str]:
    html, text = msg.get_body(("html",)), msg.get_body(("plain",))
    assert html is not None and text is not None
    return html.get_content(), text.get_content()


@pytest.mark.parametrize("locale", ["nl", "de", "en"])
def test_a_member_reads_the_email_in_their_language(
    demo: Engine, settings: Settings, locale: str
) -> None:
    msg = _send(demo, settings, locale)
    html, text = _parts(msg)
    for words in EXPECTED[locale]:
        assert words in text, (words, text)
        assert words in html, words
    assert SATURDAY not in text and SATURDAY not in html  # never an ISO date
    assert f'<html lang="{locale}">' in html
    if locale != "en":
        for word in ENGLISH:
            assert word not in text, (word, text)
            assert word not in html, word


def test_a_language_the_template_lacks_falls_back_to_its_first(
    demo: Engine, settings: Settings
) -> None:
    _html, text = _parts(_send(demo, settings, "fr"))
    assert "Hi Jonas," in text and "When: Saturday, 16 January 2027" in text
    assert "Unsubscribe" in text and SATURDAY not in text


def test_partner_values_stay_inert_in_a_dutch_email(demo: Engine, settings: Settings) -> None:
    payload = "{{ 7*7 }} {% raw %}<script>alert(1)</script>"
    msg = _send(demo, settings, "nl", headline=payload, opening_hours=payload)
    html, text = _parts(msg)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "{{ 7*7 }} {% raw %}<script>" in text and "49" not in text.replace("2049", "")
    assert "Wanneer: zaterdag 16 januari 2027" in text
