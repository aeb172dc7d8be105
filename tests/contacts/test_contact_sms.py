"""Contacts' SMS fields: a number validated and normalised to E.164 at every intake (the API,
the CSV import, read in the partner's country), SMS consent with its source, the channel
preference ("sms" needs a number), erasure forgetting the number, and partner boundaries."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from mail.sms import SmsMessage
from mail.sms_transport import OutboxSmsTransport
from mail.tags import make_tags
from models.audit import AuditEvent
from models.contacts import Contact
from models.delivery import Delivery
from models.outbox import OutboxSms
from services.sms.suppression import suppress_phone
from tests.contacts.test_contacts import GM_AMS, partner_id, upload
from tests.delivery.test_delivery import approved_row, good_values

Login = Callable[[str], dict[str, str]]
GM_BER = "gm.berlin@northwind.example"


def contacts_url(pid: int) -> str:
    return f"/api/v1/partners/{pid}/contacts"


def test_api_normalises_the_number_in_the_partners_country(
    client: TestClient, demo: Engine, login: Login
) -> None:
    ams, ber = partner_id(demo, "amsterdam"), partner_id(demo, "berlin")
    created = client.post(
        contacts_url(ams),
        json={
            "email": "sms@example.com",
            "phone": "06 1234 5678",
            "sms_consent_status": "granted",
            "sms_consent_source": "sign-up form",
            "channel": "sms",
        },
        headers=login(GM_AMS),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["phone"], body["channel"], body["sms_consent_status"]) == (
        "+31612345678",
        "sms",
        "granted",
    )
    assert body["sms_consent_at"] is not None and body["sms_suppressed"] is False
    german = client.post(
        contacts_url(ber),
        json={"email": "de@example.com", "phone": "0151 12345678"},
        headers=login(GM_BER),
    )
    assert german.status_code == 201 and german.json()["phone"] == "+4915112345678"
    assert german.json()["channel"] == "email"
    with Session(demo) as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "contact.created")).all()
        assert all("5678" not in str(e.after) for e in events), "no number in the trail"


def test_bad_input_names_the_field(client: TestClient, demo: Engine, login: Login) -> None:
    ams = partner_id(demo, "amsterdam")
    headers = login(GM_AMS)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"phone": "call me"}, "phone"),
        ({"phone": "+31 6 123"}, "phone"),
        ({"channel": "sms"}, "channel"),
        ({"phone": "", "channel": "sms"}, "channel"),
        ({"sms_consent_status": "granted"}, "sms_consent_source"),
        ({"channel": "fax"}, "channel"),
        ({"phone": "{{ 7*7 }}<script>"}, "phone"),
    ]
    for extra, field in cases:
        resp = client.post(
            contacts_url(ams), json={"email": "bad@example.com", **extra}, headers=headers
        )
        assert resp.status_code == 422, (extra, resp.text)
        fields = [
            e.get("field") or ".".join(map(str, e.get("loc", []))) for e in resp.json()["errors"]
        ]
        assert any(field in f for f in fields), (extra, fields)


def test_update_keeps_channel_and_number_consistent(
    client: TestClient, demo: Engine, login: Login
) -> None:
    ams = partner_id(demo, "amsterdam")
    headers = login(GM_AMS)
    cid = client.post(
        contacts_url(ams),
        json={"email": "u@example.com", "phone": "+31612345678", "channel": "sms"},
        headers=headers,
    ).json()["id"]
    url = f"{contacts_url(ams)}/{cid}"
    resp = client.patch(url, json={"phone": ""}, headers=headers)
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "channel"
    resp = client.patch(url, json={"phone": "", "channel": "email"}, headers=headers)
    assert resp.status_code == 200 and resp.json()["phone"] is None
    assert client.get(url, headers=headers).json()["channel"] == "email"


def test_filters_by_channel_and_sms_consent(client: TestClient, demo: Engine, login: Login) -> None:
    ams = partner_id(demo, "amsterdam")
    headers = login(GM_AMS)
    client.post(
        contacts_url(ams),
        json={"email": "t@example.com", "phone": "+31612345678", "channel": "sms"},
        headers=headers,
    )
    client.post(contacts_url(ams), json={"email": "e@example.com"}, headers=headers)
    sms = client.get(contacts_url(ams), params={"channel": "sms"}, headers=headers).json()
    assert [c["email"] for c in sms["items"]] == ["t@example.com"]
    unknown = client.get(
        contacts_url(ams), params={"sms_consent_status": "unknown"}, headers=headers
    ).json()
    assert unknown["total"] == 2


def test_sms_suppressed_flag_on_read(client: TestClient, demo: Engine, login: Login) -> None:
    ams = partner_id(demo, "amsterdam")
    headers = login(GM_AMS)
    cid = client.post(
        contacts_url(ams), json={"email": "s@example.com", "phone": "+31612345678"}, headers=headers
    ).json()["id"]
    with Session(demo) as s:
        contact = s.get(Contact, cid)
        assert contact is not None
        suppress_phone(s, contact.brand_id, "+31612345678", "stop", partner_id=ams)
        s.commit()
    read = client.get(f"{contacts_url(ams)}/{cid}", headers=headers).json()
    assert read["sms_suppressed"] is True and read["sms_consent_status"] == "denied"


IMPORT = (
    "email,consent_status,phone,sms_consent,sms_consent_source,channel\n"
    "a@example.com,unknown,06 12345678,granted,paper form,sms\n"  # 2 created, national number
    "b@example.com,unknown,+49 151 12345678,,,\n"  # 3 created, email channel
    "c@example.com,unknown,12345,,,\n"  # 4 bad number
    "d@example.com,unknown,,,,sms\n"  # 5 sms without a number
    "e@example.com,unknown,+31612345679,granted,,\n"  # 6 grant without its source
    "f@example.com,unknown,+31612345670,maybe,,\n"  # 7 unknown consent value
    "g@example.com,unknown,+31612345671,,,pigeon\n"  # 8 unknown channel
)


def test_import_reads_numbers_and_reports_each_bad_row_by_column(
    client: TestClient, demo: Engine, login: Login
) -> None:
    ams = partner_id(demo, "amsterdam")
    resp = upload(client, ams, IMPORT.encode(), login(GM_AMS))
    assert resp.status_code == 200, resp.text  # type: ignore[attr-defined]
    rows = {r["row"]: r for r in resp.json()["rows"]}  # type: ignore[attr-defined]
    assert [rows[n]["status"] for n in (2, 3)] == ["created", "created"]
    expected = {
        4: "phone:",
        5: "channel: sms needs a phone number",
        6: "sms_consent granted without sms_consent_source",
        7: "sms_consent: unknown value 'maybe'",
        8: "channel: unknown value 'pigeon'",
    }
    for n, start in expected.items():
        assert rows[n]["status"] == "rejected" and rows[n]["reasons"][0].startswith(start), rows[n]
    with Session(demo) as s:
        got = {
            c.email: (c.phone, c.sms_consent_status, c.channel)
            for c in s.exec(select(Contact).where(Contact.partner_id == ams))
        }
    assert got == {
        "a@example.com": ("+31612345678", "granted", "sms"),
        "b@example.com": ("+4915112345678", "unknown", "email"),
    }
    # Export -> import is a round trip: nothing changes.
    export = client.get(f"{contacts_url(ams)}/export", headers=login(GM_AMS)).text
    header = next(csv.reader(io.StringIO(export)))
    assert header[7:11] == ["phone", "sms_consent", "sms_consent_source", "channel"]
    again = upload(client, ams, export.encode(), login(GM_AMS)).json()  # type: ignore[attr-defined]
    assert {r["status"] for r in again["rows"]} == {"unchanged"}


def test_erasure_forgets_the_number_in_the_ledger_and_the_outbox(
    client: TestClient, demo: Engine, login: Login
) -> None:
    ams = partner_id(demo, "amsterdam")
    headers = login(GM_AMS)
    cid = client.post(
        contacts_url(ams),
        json={"email": "gone@example.com", "phone": "+31612345678", "channel": "sms"},
        headers=headers,
    ).json()["id"]
    pcid = approved_row(demo, good_values(), None)
    with Session(demo) as s:
        contact = s.get(Contact, cid)
        assert contact is not None
        row = Delivery(
            partner_campaign_id=pcid,
            brand_id=contact.brand_id,
            partner_id=ams,
            contact_id=cid,
            email=contact.email,
            channel="sms",
            phone="+31612345678",
        )
        s.add(row)
        s.commit()
        delivery_id, brand_id = row.id, contact.brand_id
    OutboxSmsTransport(demo).send_sms(
        SmsMessage(to="+31612345678", body="Hi Gone, open day!", message_id="m-gone"),
        tags=make_tags(brand=brand_id, partner_campaign=pcid, delivery=str(delivery_id)),
    )
    assert client.delete(f"{contacts_url(ams)}/{cid}", headers=headers).status_code == 204
    with Session(demo) as s:
        after = s.get(Delivery, delivery_id)
        assert after is not None and (after.phone, after.email, after.contact_id) == ("", "", None)
        sms = s.exec(select(OutboxSms).where(OutboxSms.message_id == "m-gone")).one()
        assert (sms.to, sms.body) == ("", "")


def test_another_partner_can_neither_read_nor_set_the_sms_fields(
    client: TestClient, demo: Engine, login: Login
) -> None:
    ams, ber = partner_id(demo, "amsterdam"), partner_id(demo, "berlin")
    cid = client.post(
        contacts_url(ams),
        json={"email": "mine@example.com", "phone": "+31612345678"},
        headers=login(GM_AMS),
    ).json()["id"]
    berlin = login(GM_BER)
    for pid in (ams, ber):
        url = f"{contacts_url(pid)}/{cid}"
        assert client.get(url, headers=berlin).status_code == 404
        resp = client.patch(url, json={"phone": "+4915112345678", "channel": "sms"}, headers=berlin)
        assert resp.status_code == 404
    listed = client.get(contacts_url(ams), params={"channel": "email"}, headers=berlin)
    assert listed.status_code == 404
    hostile = b"email,consent_status,phone,channel\nmine@example.com,unknown,+4915112345678,sms\n"
    assert upload(client, ams, hostile, berlin).status_code == 404  # type: ignore[attr-defined]
    with Session(demo) as s:
        contact = s.get(Contact, cid)
        assert contact is not None and (contact.phone, contact.channel) == ("+31612345678", "email")
