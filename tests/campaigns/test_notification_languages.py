"""Notification emails speak the recipient's language and show times in their zone, named:
the Amsterdam GM reads Dutch and Amsterdam time, the Hamburg GM German and Berlin time, a user
who chose English reads English, whatever the partner speaks."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, select

from core.settings import Settings
from models.org import User
from services.notifications import Recipient, compose_notice, plan
from services.speaking_to import speaking_to
from tests.campaigns.test_notifications import GM_AMS, SCRIPT, _parts, _row

# 16 Jan 2027 08:00 UTC: 09:00 in Amsterdam and Berlin (winter time).
DUE = datetime(2027, 1, 16, 8, 0, tzinfo=UTC)
ENGLISH = ["Hello", "Waiting for approval", "Open it in the portal", "Due:", "Approve"]


def _user(engine: Engine, email: str) -> User:
    with Session(engine) as s:
        user = s.exec(select(User).where(User.email == email)).one()
        s.expunge(user)
        return user


def test_the_amsterdam_gm_reads_dutch_and_amsterdam_time(demo: Engine, settings: Settings) -> None:
    notice, _ = _row(demo)
    notice = notice.model_copy(update={"due_at": DUE})
    with Session(demo) as s:
        [out] = plan(s, settings, notice)
    assert GM_AMS in str(out.message["To"])
    assert out.message["Subject"] == (
        "Wacht op goedkeuring: Open day spring (Northwind Fitness Amsterdam)"
    )
    text, html = _parts(out.message)
    assert "Hallo " in text and "Openen in het portaal" in text
    assert "Deadline: 16 jan 2027, 09:00 Midden-Europese tijd (Europe/Amsterdam)" in text
    assert "Goedkeuren: " in text and "Wijzigingen vragen: " in text
    assert '<html lang="nl">' in html and "Goedkeuren</a>" in html
    for word in ENGLISH:
        assert word not in text, word
    assert "UTC" not in text and "2027-01-16" not in text


def test_the_hamburg_gm_reads_german_and_berlin_time(demo: Engine, settings: Settings) -> None:
    notice, _ = _row(demo)
    notice = notice.model_copy(update={"due_at": DUE, "comment": SCRIPT})
    gm = _user(demo, "gm.hamburg@northwind.example")
    person = Recipient(user_id=gm.id or 0, email=gm.email, name=gm.full_name, may_decide=True)
    with Session(demo) as s, speaking_to(s, gm) as preferences:
        message = compose_notice(settings, notice, person, partner_name="Northwind Hamburg")
    assert (preferences.locale, preferences.zone) == ("de", "Europe/Berlin")
    assert message["Subject"] == "Wartet auf Genehmigung: Open day spring (Northwind Hamburg)"
    text, html = _parts(message)
    assert "Fällig: 16.01.2027, 09:00 Mitteleuropäische Zeit (Europe/Berlin)" in text
    assert "Freigeben: " in text and "Im Portal öffnen" in text
    assert "<script>" not in html and "&lt;script&gt;" in html  # the comment stays text


def test_a_user_who_chose_english_reads_english(demo: Engine, settings: Settings) -> None:
    with Session(demo) as s:
        gm = s.exec(select(User).where(User.email == GM_AMS)).one()
        gm.locale = "en"
        s.add(gm)
        s.commit()
    notice, _ = _row(demo)
    notice = notice.model_copy(update={"due_at": DUE})
    with Session(demo) as s:
        [out] = plan(s, settings, notice)
    text, _html = _parts(out.message)
    assert out.message["Subject"].startswith("Waiting for approval: ")
    # English words, the partner's zone still (the user chose a language, not a zone).
    assert "Due: 16 Jan 2027, 09:00" in text and "(Europe/Amsterdam)" in text
