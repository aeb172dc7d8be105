"""Which language and zone a person is served in: their own choice, else their partner's, else
the browser's language and the brand's zone."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from models.org import Brand, User
from services.preferences import from_accept_language, preferences_for


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("nl-NL,nl;q=0.9,en;q=0.8", "nl"),
        ("fr-FR,fr;q=0.9,de;q=0.5,en;q=0.4", "de"),
        ("en;q=0.2,de;q=0.9", "de"),
        ("fr", None),
        ("", None),
        (None, None),
        ("de;q=abc,nl", "nl"),
        ("de;q=0", None),
        ("x" * 10_000, None),
    ],
)
def test_accept_language(header: str | None, expected: str | None) -> None:
    assert from_accept_language(header) == expected


def test_partner_users_get_their_partner_hq_the_browser_and_brand(demo: Engine) -> None:
    with Session(demo) as session:
        editor = session.exec(
            select(User).where(User.email == "editor.amsterdam@northwind.example")
        ).one()
        found = preferences_for(session, editor, "de")
        assert (found.locale, found.zone) == ("nl", "Europe/Amsterdam")
        editor.locale, editor.timezone = "de", "Europe/Berlin"
        found = preferences_for(session, editor, None)
        assert (found.locale, found.zone) == ("de", "Europe/Berlin")
        editor.locale, editor.timezone = "xx", "Not/AZone"
        found = preferences_for(session, editor, None)
        assert (found.locale, found.zone) == ("nl", "Europe/Amsterdam")

        hq = session.exec(select(User).where(User.email == "admin@northwind.example")).one()
        brand = session.get(Brand, hq.brand_id)
        assert brand is not None
        brand.timezone = "Europe/Brussels"
        found = preferences_for(session, hq, "nl-BE,fr;q=0.5")
        assert (found.locale, found.zone) == ("nl", "Europe/Brussels")
        assert preferences_for(session, hq, None).locale == "en"
