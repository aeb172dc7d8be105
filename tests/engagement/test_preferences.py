"""The preference centre: the link in every demo email opens the recipient's page; each
choice works and is audited; altered tokens and tokens bound to another partner or brand
show nothing; an erased contact's link shows nothing; contact data is escaped."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from core.settings import Settings
from models.audit import AuditEvent
from models.contacts import Contact
from models.delivery import Delivery
from models.org import Partner
from services import suppression
from services.engagement import preferences
from tests.delivery.test_delivery import (
    ScriptedTransport,
    add_contacts,
    approved_row,
    good_values,
    make_segment,
    send_all,
    snapshot,
)

NAME = '<img src=x onerror="alert(1)">{{ 7*7 }}'


def contact_in(engine: Engine, slug: str, email: str, **extra: object) -> Contact:
    with Session(engine) as s:
        partner = s.exec(select(Partner).where(Partner.slug == slug)).first()
        assert partner is not None
        contact = Contact(
            brand_id=partner.brand_id,
            partner_id=partner.id or 0,
            email=email,
            name=NAME,
            locale="en",
            consent_status="granted",
            attributes={"note": "<b>vip</b>{{ 7*7 }}"},
            **extra,  # type: ignore[arg-type]
        )
        s.add(contact)
        s.commit()
        s.refresh(contact)
        s.expunge(contact)
        return contact


def path_for(settings: Settings, contact: Contact, partner_id: int | None = None) -> str:
    url = preferences.preferences_url(
        settings, contact.brand_id, partner_id or contact.partner_id, contact.id or 0
    )
    return url.removeprefix(settings.public_base_url.rstrip("/"))


def audit_actions(engine: Engine, contact: Contact) -> list[str]:
    with Session(engine) as s:
        rows = s.exec(
            select(AuditEvent.action)
            .where(AuditEvent.actor == f"contact:{contact.id}")
            .order_by(col(AuditEvent.id))
        )
        return list(rows)


def fresh(engine: Engine, contact: Contact) -> Contact | None:
    with Session(engine) as s:
        return s.get(Contact, contact.id)


def without_times(text: str) -> str:
    return re.sub(r"\d{4}-\d{2}-\d{2}", "", text)


def test_the_demo_email_links_a_working_preference_page(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    [email] = add_contacts(demo, "amsterdam", 1, tag="prefs")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "prefs"))
    snapshot(demo, pcid)
    transport = ScriptedTransport()
    send_all(demo, settings, transport, pcid)
    [msg] = transport.sent
    html_part, text_part = msg.get_body(("html",)), msg.get_body(("plain",))
    assert html_part is not None and text_part is not None
    links = [
        html.unescape(h) for h in re.findall(r'href="([^"]*/p/[^"]+)"', html_part.get_content())
    ]
    assert len(links) == 1 and links[0] in text_part.get_content()
    # RFC 8058 stays as it was.
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    page = client.get(links[0].removeprefix(settings.public_base_url.rstrip("/")))
    assert page.status_code == 200 and email in page.text and "Amsterdam" in page.text
    assert page.headers["cache-control"] == "no-store"


def test_the_page_shows_what_is_held_escaped_and_changes_nothing(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    contact = contact_in(demo, "amsterdam", "pref.show@example.com", tags=["yoga"])
    resp = client.get(path_for(settings, contact))
    assert resp.status_code == 200
    assert "<img" not in resp.text and "&lt;img src=x" in resp.text
    assert "<b>vip</b>" not in resp.text and "&lt;b&gt;vip&lt;/b&gt;" in resp.text
    assert "{{ 7*7 }}" in resp.text and "49" not in without_times(resp.text)
    assert "pref.show@example.com" in resp.text and "yoga" in resp.text
    assert audit_actions(demo, contact) == []


def test_changing_the_language_is_saved_and_audited(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    contact = contact_in(demo, "amsterdam", "pref.lang@example.com")
    path = path_for(settings, contact)
    assert client.post(f"{path}/language", data={"language": "nl"}).status_code == 200
    after = fresh(demo, contact)
    assert after is not None and after.locale == "nl"
    bad = client.post(f"{path}/language", data={"language": "xx"})
    assert bad.status_code == 422 and "language" in bad.text
    after = fresh(demo, contact)
    assert after is not None and after.locale == "nl"
    assert audit_actions(demo, contact) == ["preferences.language"]


def test_unsubscribing_from_the_club_denies_consent_and_is_audited(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    contact = contact_in(demo, "amsterdam", "pref.club@example.com")
    for _ in range(2):  # a second press changes nothing more
        resp = client.post(f"{path_for(settings, contact)}/unsubscribe-club")
        assert resp.status_code == 200 and "no more emails from" in resp.text
    after = fresh(demo, contact)
    assert after is not None and after.consent_status == "denied"
    assert after.consent_source == "preference centre"
    with Session(demo) as s:  # the club only: the brand's other clubs may still write
        assert not suppression.is_suppressed(s, contact.brand_id, contact.email)
    assert audit_actions(demo, contact) == ["preferences.unsubscribe_club"]


def test_unsubscribing_from_the_brand_suppresses_the_address_and_is_audited(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    contact = contact_in(demo, "amsterdam", "pref.brand@example.com")
    resp = client.post(f"{path_for(settings, contact)}/unsubscribe-brand")
    assert resp.status_code == 200
    with Session(demo) as s:
        assert suppression.is_suppressed(s, contact.brand_id, contact.email)
        entry = suppression.find(s, contact.brand_id, contact.email)
        assert entry is not None and entry.partner_id == contact.partner_id
    assert audit_actions(demo, contact) == ["preferences.unsubscribe_brand"]
    # The trail holds ids and values, never the address or the name.
    with Session(demo) as s:
        for row in s.exec(select(AuditEvent).where(AuditEvent.actor == f"contact:{contact.id}")):
            assert contact.email not in str(row.before) + str(row.after) + row.entity_id


def test_erasure_needs_the_box_then_forgets_and_the_link_shows_nothing(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    [email] = add_contacts(demo, "amsterdam", 1, tag="prefserase")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "prefserase"))
    snapshot(demo, pcid)
    with Session(demo) as s:
        contact = s.exec(select(Contact).where(Contact.email == email)).one()
        s.expunge(contact)
    path = path_for(settings, contact)
    unconfirmed = client.post(f"{path}/erase")
    assert unconfirmed.status_code == 422 and "confirm" in unconfirmed.text
    assert fresh(demo, contact) is not None
    resp = client.post(f"{path}/erase", data={"confirm": "yes"})
    assert resp.status_code == 200 and "holds no data about you" in resp.text
    assert fresh(demo, contact) is None
    with Session(demo) as s:
        row = s.exec(select(Delivery).where(Delivery.partner_campaign_id == pcid)).one()
        assert row.email == "" and row.contact_id is None
    again = client.get(path)
    assert again.status_code == 200 and email not in again.text and "<form" not in again.text
    for action in ("language", "unsubscribe-club", "unsubscribe-brand", "erase"):
        after = client.post(f"{path}/{action}", data={"confirm": "yes", "language": "de"})
        assert after.status_code == 200 and "<form" not in after.text
    assert audit_actions(demo, contact) == ["preferences.erased"]


def test_altered_and_foreign_tokens_show_and_change_nothing(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    mine = contact_in(demo, "amsterdam", "pref.mine@example.com")
    theirs = contact_in(demo, "berlin", "pref.theirs@example.com")
    other_brand = contact_in(demo, "rotterdam", "pref.contoso@example.com")
    good = path_for(settings, mine)
    token = good.removeprefix("/p/")
    body, _, mac = token.partition(".")
    flipped = mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB")
    refused = [
        f"/p/{body}.{flipped}",
        f"/p/{body}.{mac}=",
        f"/p/{token}x",
        "/p/not-a-token",
        # A genuine token of Amsterdam's that names Berlin's contact, or another brand's.
        path_for(settings, theirs, partner_id=mine.partner_id),
        path_for(settings, other_brand, partner_id=mine.partner_id),
    ]
    for path in refused:
        assert client.get(path).status_code == 404, path
        for action in ("language", "unsubscribe-club", "unsubscribe-brand", "erase"):
            resp = client.post(f"{path}/{action}", data={"confirm": "yes", "language": "de"})
            assert resp.status_code == 404, (path, action)
    for contact in (mine, theirs, other_brand):
        after = fresh(demo, contact)
        assert after is not None and after.locale == "en" and after.consent_status == "granted"
        assert audit_actions(demo, contact) == []
    # A token signed with another key is worthless too.
    other = settings.model_copy(update={"secret_key": settings.secret_key.__class__("x" * 40)})
    assert client.get(path_for(other, mine)).status_code == 404


def test_previews_link_a_sample_page() -> None:
    assert preferences.sample_preferences_url(Settings()).endswith("/p/preview")
