"""HQ reads the brand's phone suppression list: numbers from a partner's contacts only where
the partner shares its contacts, a search never reveals part of a withheld number, and nobody
outside HQ's contact roles reads it."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from models.org import Partner
from services.sms.suppression import WITHHELD, suppress_phone

Login = Callable[[str], dict[str, str]]
MARKETING = "marketing@northwind.example"
STOPPED = "+31612349876"
MANUAL = "+4915112345678"


def _stop(demo: Engine) -> int:
    with Session(demo) as s:
        ams = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        row = suppress_phone(
            s, ams.brand_id, STOPPED, "stop", partner_id=ams.id, source="sms inbound"
        )
        suppress_phone(s, ams.brand_id, MANUAL, "manual", source="api", detail="asked by phone")
        s.commit()
        assert ams.id is not None and row.id is not None
        return ams.id


def _share(demo: Engine, partner_id: int) -> None:
    with Session(demo) as s:
        partner = s.get(Partner, partner_id)
        assert partner is not None
        partner.contacts_shared_with_brand = True
        s.add(partner)
        s.commit()


def _phones(client: TestClient, headers: dict[str, str], query: str = "") -> list[str]:
    answer = client.get(f"/api/v1/phone-suppressions{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    return [item["phone"] for item in answer.json()["items"]]


def test_a_partners_stop_is_withheld_until_the_partner_shares_its_contacts(
    client: TestClient, login: Login, demo: Engine
) -> None:
    ams = _stop(demo)
    headers = login(MARKETING)
    listed = client.get("/api/v1/phone-suppressions?reason=stop", headers=headers).json()
    assert STOPPED not in str(listed)
    assert {i["phone"] for i in listed["items"]} == {WITHHELD}
    assert all(i["phone_withheld"] and i["detail"] == "" for i in listed["items"])
    assert MANUAL in _phones(client, headers, "?reason=manual")
    _share(demo, ams)
    assert STOPPED in _phones(client, headers, "?reason=stop")


def test_a_search_finds_a_withheld_number_only_whole(
    client: TestClient, login: Login, demo: Engine
) -> None:
    _stop(demo)
    headers = login(MARKETING)
    assert _phones(client, headers, "?q=12349876") == []  # part of a withheld number
    assert _phones(client, headers, "?q=06%2012349876") == [WITHHELD]  # the whole, any spelling
    assert _phones(client, headers, "?q=15112345") == [MANUAL]  # part of a readable one
    assert _phones(client, headers, "?q=no%20digits") == []


def test_partner_users_and_other_brands_read_nothing(
    client: TestClient, login: Login, demo: Engine
) -> None:
    _stop(demo)
    for email in ("gm.amsterdam@northwind.example", "editor.amsterdam@northwind.example"):
        assert client.get("/api/v1/phone-suppressions", headers=login(email)).status_code == 403
    other = client.get("/api/v1/phone-suppressions", headers=login("admin@contoso.example"))
    assert other.status_code == 200
    assert STOPPED not in other.text and MANUAL not in other.text


def test_a_bad_filter_is_a_422_naming_it(client: TestClient, login: Login, demo: Engine) -> None:
    answer = client.get("/api/v1/phone-suppressions?reason=nope", headers=login(MARKETING))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "reason"
    long = client.get(f"/api/v1/phone-suppressions?q={'1' * 41}", headers=login(MARKETING))
    assert long.status_code == 422
