"""The outbox SMS view: HQ of the brand lists what the embedded SMS transport kept, newest
first, with sender, text, encoding and segments; a contact's number and text only where the
partner shares its contacts; partner and region users are refused; another brand sees nothing."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.settings import Settings
from mail.sms import SmsMessage
from mail.sms_transport import OutboxSmsTransport
from mail.tags import make_tags
from models.contacts import Contact
from models.delivery import Delivery
from models.org import Brand, Partner
from tests.delivery.test_delivery import approved_row, good_values
from tests.delivery.test_outbox import portal_cookie, share

Login = Callable[[str], dict[str, str]]
URL = "/api/v1/outbox/sms"
NUMBER = "+31612345678"
TEXT = "Hi <b>Ann</b> {{ 7*7 }}, open day Saturday 👋"


def _sent(demo: Engine) -> tuple[int, int]:
    """One SMS to an Amsterdam contact (a delivery row) and one of Contoso's; (brand, pc)."""
    pcid = approved_row(demo, good_values(), None)
    with Session(demo) as s:
        ams = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        contoso = s.exec(select(Brand).where(Brand.name == "Contoso Motors")).one()
        contact = Contact(
            brand_id=ams.brand_id, partner_id=ams.id or 0, email="ann@example.com", phone=NUMBER
        )
        s.add(contact)
        s.flush()
        row = Delivery(
            partner_campaign_id=pcid,
            brand_id=ams.brand_id,
            partner_id=ams.id or 0,
            contact_id=contact.id,
            email=contact.email,
            channel="sms",
            phone=NUMBER,
        )
        s.add(row)
        s.commit()
        brand_id, delivery_id, contoso_id = ams.brand_id, row.id, contoso.id
    outbox = OutboxSmsTransport(demo)
    outbox.send_sms(
        SmsMessage(to=NUMBER, body=TEXT, message_id="sms-ann", sender_id="Northwind"),
        tags=make_tags(brand=brand_id, partner_campaign=pcid, delivery=str(delivery_id)),
    )
    outbox.send_sms(
        SmsMessage(to="+4915112345678", body="Contoso only", message_id="sms-contoso"),
        tags=make_tags(brand=contoso_id or 0),
    )
    return brand_id, pcid


def test_hq_lists_sms_withheld_until_the_partner_shares(
    client: TestClient, demo: Engine, login: Login
) -> None:
    _, pcid = _sent(demo)
    ops = login("marketing@northwind.example")  # reads contacts where the partner shares
    page = client.get(URL, headers=ops)
    assert page.status_code == 200, page.text
    [item] = page.json()["items"]
    assert (item["to"], item["body"], item["recipient_withheld"]) == (
        "1 recipient",
        "(text withheld)",
        True,
    )
    assert (item["encoding"], item["segments"], item["sender_id"]) == ("UCS-2", 1, "Northwind")
    share(client, login, item_partner(demo), True)
    [item] = client.get(URL, headers=ops).json()["items"]
    assert (item["to"], item["body"], item["recipient_withheld"]) == (NUMBER, TEXT, False)
    assert item["partner_campaign_id"] == pcid
    filtered = client.get(URL, params={"partner_campaign_id": pcid + 1000}, headers=ops).json()
    assert filtered["items"] == []


def item_partner(demo: Engine) -> int:
    with Session(demo) as s:
        return s.exec(select(Partner.id).where(Partner.slug == "amsterdam")).one() or 0


def test_partner_and_region_users_are_refused_and_other_brands_see_only_theirs(
    client: TestClient, demo: Engine, login: Login
) -> None:
    _sent(demo)
    for email in ("gm.amsterdam@northwind.example", "north@northwind.example"):
        assert client.get(URL, headers=login(email)).status_code == 403, email
    contoso = client.get(URL, headers=login("admin@contoso.example")).json()
    assert [i["body"] for i in contoso["items"]] == ["Contoso only"]


def test_portal_page_shows_cards_escaped(
    client: TestClient, demo: Engine, login: Login, settings: Settings
) -> None:
    _sent(demo)
    share(client, login, item_partner(demo), True)
    client.cookies.update(portal_cookie(settings, demo, "marketing@northwind.example"))
    page = client.get("/outbox-sms")
    assert page.status_code == 200
    text = page.text
    assert NUMBER in text and "Northwind" in text and "UCS-2, 1 segment" in text
    assert "<b>Ann</b>" not in text and "&lt;b&gt;Ann&lt;/b&gt;" in text
    assert "{{ 7*7 }}" in text and "Contoso only" not in text
    assert 'href="/outbox-sms"' in text  # in the navigation while SMS_TRANSPORT=outbox
