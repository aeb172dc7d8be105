"""Contacts: CSV import (bad rows, idempotence, nothing half-written), export round trip,
erasure with an anonymous count, injection payloads stored as data, partner boundaries."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.settings import Settings
from models.audit import AuditEvent
from models.contacts import Contact, ErasureCount
from models.locales import normalise_email
from models.org import Partner
from services import contact_csv
from services.contacts import erase_contact
from services.engagement.unsubscribe import unsubscribe_url
from tests.contacts.test_spreadsheet import FORMULA_CELLS, PLAIN_CELLS

Login = Callable[[str], dict[str, str]]
GM_AMS = "gm.amsterdam@northwind.example"
INJECTION = "<script>alert(1)</script>{{ 7*7 }}'; DROP TABLE contact; --"


def partner_id(engine: Engine, slug: str) -> int:
    with Session(engine) as s:
        return s.exec(select(Partner.id).where(Partner.slug == slug)).one() or 0


def upload(client: TestClient, pid: int, data: bytes, headers: dict[str, str]) -> object:
    files = {"file": ("contacts.csv", data, "text/csv")}
    return client.post(f"/api/v1/partners/{pid}/contacts/import", files=files, headers=headers)


BAD_FILE = (
    "email,name,locale,consent_status,consent_source,tags,attr.tier\n"
    "good@example.com,Good One,de,granted,web form,yoga;family,gold\n"  # 2 created
    "not-an-email,Bad,de,granted,web form,,\n"  # 3 bad email
    "locale@example.com,Bad,xx,granted,web form,,\n"  # 4 unknown locale
    "GOOD@Example.com,Dup,de,granted,web form,,\n"  # 5 created: local part differs
    "good@EXAMPLE.COM,Dup,de,granted,web form,,\n"  # 6 duplicate of row 2
    "noconsent@example.com,No,de,,,,\n"  # 7 missing consent
    "nosource@example.com,No,de,granted,,,\n"  # 8 granted without source
    "weird@example.com,W,de,maybe,x,,\n"  # 9 unknown consent value
    "many@example.com,M,de,unknown,,,,extra\n"  # 10 too many values
    "tags@example.com,T,de,unknown,,bad tag!,\n"  # 11 bad tag
    "second@example.com,Second,,unknown,,,\n"  # 12 created, partner locale
)


def test_import_reports_each_bad_row_and_writes_only_good_rows(
    client: TestClient, demo: Engine, login: Login
) -> None:
    pid = partner_id(demo, "amsterdam")
    resp = upload(client, pid, BAD_FILE.encode(), login(GM_AMS))
    assert resp.status_code == 200, resp.text
    report = resp.json()
    by_row = {r["row"]: r for r in report["rows"]}
    assert [by_row[n]["status"] for n in range(2, 13)] == [
        "created",
        "rejected",
        "rejected",
        "created",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "created",
    ]
    assert "bad email" in by_row[3]["reasons"][0]
    assert "unknown locale" in by_row[4]["reasons"][0]
    assert by_row[6]["reasons"] == ["duplicate within the file (first on row 2)"]
    assert "missing consent" in by_row[7]["reasons"][0]
    assert "consent_source" in by_row[8]["reasons"][0]
    assert "unknown consent_status" in by_row[9]["reasons"][0]
    assert "more values than columns" in by_row[10]["reasons"]
    assert by_row[11]["reasons"][0].startswith("tags:")
    assert (report["created"], report["rejected"], report["updated"]) == (3, 8, 0)
    with Session(demo) as s:
        rows = s.exec(select(Contact).where(Contact.partner_id == pid)).all()
        emails = {c.email: c for c in rows}
    assert set(emails) == {"good@example.com", "GOOD@example.com", "second@example.com"}
    good = emails["good@example.com"]
    assert (good.name, good.tags, good.attributes) == (
        "Good One",
        ["yoga", "family"],
        {"tier": "gold"},
    )
    assert emails["second@example.com"].locale == "nl"  # the partner's locale


def test_reimport_changes_nothing_and_a_changed_row_is_updated(
    client: TestClient, demo: Engine, login: Login
) -> None:
    pid = partner_id(demo, "amsterdam")
    headers = login(GM_AMS)
    data = (
        b"email,name,consent_status,consent_source,consent_at\n"
        b"a@example.com,A,granted,form,2025-01-02T03:04:05+00:00\n"
        b"b@example.com,B,denied,form,\n"
    )
    assert upload(client, pid, data, headers).json()["created"] == 2
    again = upload(client, pid, data, headers).json()
    assert (again["unchanged"], again["created"], again["updated"]) == (2, 0, 0)
    changed = data.replace(b"b@example.com,B,", b"b@example.com,Bea,")
    third = upload(client, pid, changed, headers).json()
    assert [r["status"] for r in third["rows"]] == ["unchanged", "updated"]


def test_import_in_small_chunks_matches_and_reports_in_order(demo: Engine) -> None:
    pid = partner_id(demo, "berlin")
    lines = ["email,consent_status"] + [f"u{i}@example.com,unknown" for i in range(23)]
    lines.insert(5, "u0@example.com,unknown")  # a duplicate in a later chunk than the first
    with Session(demo) as s:
        partner = s.get(Partner, pid)
        assert partner is not None
        rows = list(contact_csv.import_csv(s, partner, io.StringIO("\n".join(lines)), chunk_size=3))
    assert [r.row for r in rows] == list(range(2, 2 + 24))
    assert rows[4].status == "rejected" and "first on row 2" in rows[4].reasons[0]
    assert sum(r.status == "created" for r in rows) == 23


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not UTF-8"),
        (b"", "is empty"),
        (b"emial,consent_status\nx@example.com,unknown\n", "unknown columns 'emial'"),
        (b"email,name\nx@example.com,X\n", "consent_status"),
    ],
)
def test_unusable_files_are_422_on_file(
    client: TestClient, demo: Engine, login: Login, data: bytes, message: str
) -> None:
    resp = upload(client, partner_id(demo, "amsterdam"), data, login(GM_AMS))
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["errors"][0]["field"] == "file"
    assert message in body["detail"]


def test_export_round_trips_through_import(client: TestClient, demo: Engine, login: Login) -> None:
    pid = partner_id(demo, "amsterdam")
    headers = login(GM_AMS)
    data = (
        "email,name,locale,consent_status,consent_source,consent_at,tags,attr.tier,attr.city\n"
        f'x@example.com,"{INJECTION.replace(chr(34), "")}",de-AT,granted,shop,2025-05-01,'
        'yoga;student,gold,"Den Haag, NL"\n'
        "y@example.com,Y,en,unknown,,,,,=1+2\n"
    ).encode()
    assert upload(client, pid, data, headers).json()["created"] == 2
    export = client.get(f"/api/v1/partners/{pid}/contacts/export", headers=headers)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    again = upload(client, pid, export.content, headers).json()
    assert (again["unchanged"], again["rejected"]) == (2, 0), again


def _contact_values(engine: Engine, pid: int) -> list[tuple[Any, ...]]:
    with Session(engine) as s:
        rows = s.exec(select(Contact).where(Contact.partner_id == pid)).all()
        return sorted(
            (
                c.email,
                c.name,
                c.locale,
                c.consent_status,
                c.consent_source,
                c.consent_at,
                c.tags,
                c.attributes,
            )
            for c in rows
        )


def _export_rows(client: TestClient, pid: int, headers: dict[str, str]) -> list[dict[str, str]]:
    export = client.get(f"/api/v1/partners/{pid}/contacts/export", headers=headers)
    assert export.status_code == 200, export.text
    return list(csv.DictReader(io.StringIO(export.text)))


def test_export_guards_formulas_and_import_restores_them(
    client: TestClient, demo: Engine, login: Login
) -> None:
    """Every cell a spreadsheet would run is exported with a quote in front (name, consent
    source, attributes, email); importing the export changes nothing, values that really start
    with a quote included."""
    pid = partner_id(demo, "amsterdam")
    headers = login(GM_AMS)
    # Plain values that survive the import's trimming; the formula cells all do (guarded).
    values = [*FORMULA_CELLS, *(v for v in PLAIN_CELLS if v and v == v.strip())]
    for n, value in enumerate(values):
        resp = client.post(
            f"/api/v1/partners/{pid}/contacts",
            json={
                "email": f"sheet{n}@example.com",
                "name": value,
                "consent_status": "unknown",
                "consent_source": value,
                "attributes": {"note": value},
            },
            headers=headers,
        )
        assert resp.status_code == 201, resp.text
    for email in ("=1+1@example.com", "-cmd@example.com", "+x@example.com"):
        resp = client.post(
            f"/api/v1/partners/{pid}/contacts",
            json={"email": email, "consent_status": "unknown"},
            headers=headers,
        )
        assert resp.status_code == 201, resp.text
    before = _contact_values(demo, pid)

    rows = _export_rows(client, pid, headers)
    by_email = {r["email"]: r for r in rows}
    for n, value in enumerate(values):
        row = by_email[f"sheet{n}@example.com"]
        written = "'" + value if value in FORMULA_CELLS else value
        assert (row["name"], row["consent_source"], row["attr.note"]) == (written,) * 3
    assert {"'=1+1@example.com", "'-cmd@example.com", "'+x@example.com"} <= set(by_email)

    export = client.get(f"/api/v1/partners/{pid}/contacts/export", headers=headers)
    again = upload(client, pid, export.content, headers).json()
    assert (again["unchanged"], again["created"], again["updated"], again["rejected"]) == (
        len(rows),
        0,
        0,
        0,
    ), again
    assert _contact_values(demo, pid) == before


def test_the_import_removes_only_the_exports_guard(
    client: TestClient, demo: Engine, login: Login
) -> None:
    pid = partner_id(demo, "amsterdam")
    headers = login(GM_AMS)
    data = (
        "email,consent_status,name,attr.note\n"
        "a@example.com,unknown,'=1+1,'\uff0b1\n"
        "b@example.com,unknown,''=1+1,'tis\n"
    ).encode()
    assert upload(client, pid, data, headers).json()["created"] == 2
    with Session(demo) as s:
        got = {
            c.email: (c.name, c.attributes["note"])
            for c in s.exec(select(Contact).where(Contact.partner_id == pid)).all()
        }
    assert got["a@example.com"] == ("=1+1", "\uff0b1")
    assert got["b@example.com"] == ("'=1+1", "'tis")


def test_export_guards_a_tag_cell(client: TestClient, demo: Engine, login: Login) -> None:
    """Tags cannot start with a trigger today (letters, digits and dashes, not first); a row
    written before that rule, or by a future one, is guarded all the same."""
    pid = partner_id(demo, "amsterdam")
    with Session(demo) as s:
        partner = s.get(Partner, pid)
        assert partner is not None
        s.add(
            Contact(
                brand_id=partner.brand_id,
                partner_id=pid,
                email="legacy@example.com",
                locale="nl",
                consent_status="unknown",
                tags=["=cmd|' /C calc'!A0", "yoga"],
            )
        )
        s.commit()
    row = next(r for r in _export_rows(client, pid, login(GM_AMS)) if r["email"].startswith("leg"))
    assert row["tags"] == "'=cmd|' /C calc'!A0;yoga"


def test_injection_payloads_are_stored_as_data(
    client: TestClient, demo: Engine, login: Login
) -> None:
    pid = partner_id(demo, "amsterdam")
    headers = login(GM_AMS)
    resp = client.post(
        f"/api/v1/partners/{pid}/contacts",
        json={
            "email": "  Inj@Example.COM ",
            "name": INJECTION,
            "consent_status": "granted",
            "consent_source": INJECTION[:50],
            "attributes": {"note": INJECTION},
        },
        headers=headers,
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert (body["email"], body["name"], body["attributes"]["note"]) == (
        "Inj@example.com",
        INJECTION,
        INJECTION,
    )
    found = client.get(
        f"/api/v1/partners/{pid}/contacts", params={"q": "drop table"}, headers=headers
    )
    assert [c["id"] for c in found.json()["items"]] == [body["id"]]


def test_create_validates_and_names_the_field(
    client: TestClient, demo: Engine, login: Login
) -> None:
    pid = partner_id(demo, "amsterdam")
    headers = login(GM_AMS)
    cases = [
        ({"email": "nope"}, "email"),
        ({"email": "a@example.com", "locale": "xx"}, "locale"),
        ({"email": "a@example.com", "consent_status": "granted"}, "consent_source"),
        ({"email": "a@example.com", "attributes": {"Bad Key": 1}}, "attributes"),
    ]
    for body, field in cases:
        resp = client.post(f"/api/v1/partners/{pid}/contacts", json=body, headers=headers)
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"][0]["field"] == field
    ok = client.post(
        f"/api/v1/partners/{pid}/contacts", json={"email": "a@example.com"}, headers=headers
    )
    assert ok.status_code == 201
    dup = client.post(
        f"/api/v1/partners/{pid}/contacts", json={"email": "a@EXAMPLE.com"}, headers=headers
    )
    assert dup.status_code == 409


def test_erasure_deletes_the_contact_and_keeps_an_anonymous_count(
    client: TestClient, demo: Engine, login: Login
) -> None:
    pid = partner_id(demo, "amsterdam")
    headers = login(GM_AMS)
    ids = [
        client.post(
            f"/api/v1/partners/{pid}/contacts", json={"email": f"e{i}@example.com"}, headers=headers
        ).json()["id"]
        for i in range(2)
    ]
    for cid in ids:
        assert (
            client.delete(f"/api/v1/partners/{pid}/contacts/{cid}", headers=headers).status_code
            == 204
        )
    assert (
        client.get(f"/api/v1/partners/{pid}/contacts/{ids[0]}", headers=headers).status_code == 404
    )
    summary = client.get(
        f"/api/v1/partners/{pid}/contacts/summary", headers=login("admin@northwind.example")
    )
    assert summary.json()["erased"] == 2
    with Session(demo) as s:
        counter = s.exec(select(ErasureCount).where(ErasureCount.partner_id == pid)).one()
        assert counter.model_dump().keys() == {
            "id",
            "brand_id",
            "partner_id",
            "count",
            "updated_at",
        }
        audit_text = str([e.model_dump() for e in s.exec(select(AuditEvent)).all()])
    assert "e0@example.com" not in audit_text


def test_erase_contact_hook_is_callable_inside_a_transaction(demo: Engine) -> None:
    pid = partner_id(demo, "berlin")
    with Session(demo) as s:
        partner = s.get(Partner, pid)
        assert partner is not None
        contact = Contact(brand_id=partner.brand_id, partner_id=pid, email="h@example.com")
        s.add(contact)
        s.flush()
        erase_contact(s, contact)
        s.commit()
        assert s.exec(select(Contact).where(Contact.partner_id == pid)).all() == []


def test_hq_sees_rows_only_when_the_gm_shares_them(
    client: TestClient, demo: Engine, login: Login
) -> None:
    pid = partner_id(demo, "amsterdam")
    admin = login("admin@northwind.example")
    client.post(
        f"/api/v1/partners/{pid}/contacts", json={"email": "s@example.com"}, headers=login(GM_AMS)
    )
    assert client.get(f"/api/v1/partners/{pid}/contacts", headers=admin).status_code == 403
    assert (
        client.get(f"/api/v1/partners/{pid}/contacts/summary", headers=admin).json()["total"] == 1
    )
    # HQ cannot share on the partner's behalf; the GM can.
    assert (
        client.put(
            f"/api/v1/partners/{pid}/contacts/sharing", json={"shared": True}, headers=admin
        ).status_code
        == 403
    )
    shared = client.put(
        f"/api/v1/partners/{pid}/contacts/sharing", json={"shared": True}, headers=login(GM_AMS)
    )
    assert shared.status_code == 200
    rows = client.get(f"/api/v1/partners/{pid}/contacts", headers=admin).json()["items"]
    assert [r["email"] for r in rows] == ["s@example.com"]
    north = login("north@northwind.example")  # region managers count, never read rows
    assert client.get(f"/api/v1/partners/{pid}/contacts", headers=north).status_code == 403


def test_a_partner_never_sees_or_touches_another_partners_contacts(
    client: TestClient, demo: Engine, login: Login
) -> None:
    ams, ber = partner_id(demo, "amsterdam"), partner_id(demo, "berlin")
    cid = client.post(
        f"/api/v1/partners/{ams}/contacts",
        json={"email": "mine@example.com"},
        headers=login(GM_AMS),
    ).json()["id"]
    berlin = login("gm.berlin@northwind.example")
    # Through Berlin's own partner id, Amsterdam's contact id does not exist either.
    for method in ("GET", "PATCH", "DELETE"):
        for pid in (ams, ber):
            resp = client.request(
                method, f"/api/v1/partners/{pid}/contacts/{cid}", json={"name": "x"}, headers=berlin
            )
            assert resp.status_code == 404, (method, pid, resp.status_code)
    assert client.get(f"/api/v1/partners/{ber}/contacts", headers=berlin).json()["total"] == 0
    assert (
        upload(client, ams, b"email,consent_status\nz@example.com,unknown\n", berlin).status_code
        == 404
    )
    export = client.get(f"/api/v1/partners/{ams}/contacts/export", headers=berlin)
    assert export.status_code == 404


def test_email_normalisation() -> None:
    assert normalise_email("  Anna.Smith@Example.COM ") == "Anna.Smith@example.com"
    assert normalise_email("a@müller.de") == "a@xn--mller-kva.de"
    for bad in (
        "a@b",
        "a b@example.com",
        "a@example.com\r\nBcc: x@y.z",
        "a..b@example.com",
        "@x.com",
        "=?utf-8?q?a?=@example.com",  # the header parser reads an encoded word: unsendable
    ):
        with pytest.raises(ValueError):
            normalise_email(bad)


def test_every_accepted_address_can_be_put_in_a_header() -> None:
    """One rule for intake and composition: whatever intake accepts, compose sends."""
    from email import policy

    from mail.message import compose, parse_address

    atext = "!#$%&'*+/=?^_`{|}~-"
    candidates = [f"{a}{b}x@example.com" for a in atext for b in atext] + [
        f"=?{c}?=@example.com" for c in ("", "a", "utf-8?q?a", "x?b?y")
    ]
    accepted = []
    for raw in candidates:
        try:
            accepted.append(normalise_email(raw))
        except ValueError:
            continue
    assert len(accepted) > len(atext) ** 2 // 2
    for email in accepted:
        msg = compose(
            sender="n@brand.example", to=[parse_address(email, "to")], subject="s", text="t"
        )
        assert email.encode() in msg.as_bytes(policy=policy.SMTP)


def test_user_and_partner_addresses_follow_the_same_rule(client: TestClient, login: Login) -> None:
    admin = login("admin@northwind.example")
    refused = client.post(
        "/api/v1/users",
        json={"email": "=?utf-8?q?a?=@northwind.example", "full_name": "X"},
        headers=admin,
    )
    assert refused.status_code == 422 and "email" in refused.text
    quoted = client.post(
        "/api/v1/users", json={"email": 'a"b@northwind.example', "full_name": "X"}, headers=admin
    )
    assert quoted.status_code == 422


def test_suppression_entries_from_a_partner_that_does_not_share_are_withheld(
    client: TestClient, demo: Engine, login: Login, settings: Settings
) -> None:
    """The brand's list keeps every objection, but an unsubscribe from Amsterdam's list is
    Amsterdam's data: HQ sees its reason, not its address, until the GM shares; a search finds
    it by the whole address only, never by a part."""
    pid = partner_id(demo, "amsterdam")
    address = "vesna.quorrel@customers.example"
    created = client.post(
        f"/api/v1/partners/{pid}/contacts",
        json={"email": address, "consent_status": "unknown"},
        headers=login(GM_AMS),
    )
    assert created.status_code == 201, created.text
    with Session(demo) as s:
        brand_id = s.exec(select(Partner.brand_id).where(Partner.id == pid)).one()
    link = unsubscribe_url(settings, brand_id, pid, created.json()["id"], "7")
    token = link.split("/u/")[1]
    assert client.post(f"/u/{token}/one-click").status_code == 200
    marketing = login("marketing@northwind.example")
    manual = client.post(
        "/api/v1/suppressions", json={"email": "hq.typed@example.com"}, headers=marketing
    )
    assert manual.status_code == 201 and manual.json()["email"] == "hq.typed@example.com"

    def listed(q: str = "") -> list[dict[str, object]]:
        resp = client.get("/api/v1/suppressions", params={"q": q} if q else {}, headers=marketing)
        assert resp.status_code == 200
        return list(resp.json()["items"])

    by_reason = {r["reason"]: r for r in listed()}
    assert by_reason["manual"]["email"] == "hq.typed@example.com"  # HQ's own entry
    withheld = by_reason["unsubscribed"]
    assert withheld["email_withheld"] is True
    assert (withheld["email"], withheld["detail"]) == ("(withheld)", "")
    assert listed("vesna") == [] and listed("customers.example") == []
    assert [r["reason"] for r in listed(address)] == ["unsubscribed"]  # the whole address
    again = client.post("/api/v1/suppressions", json={"email": address}, headers=marketing)
    assert again.json()["reason"] == "unsubscribed" and again.json()["detail"] == ""
    assert address not in client.get("/api/v1/suppressions", headers=marketing).text

    shared = client.put(
        f"/api/v1/partners/{pid}/contacts/sharing", json={"shared": True}, headers=login(GM_AMS)
    )
    assert shared.status_code == 200
    [entry] = listed("vesna")
    assert entry["email"] == address and entry["detail"] == f"partner {pid}, delivery 7"
