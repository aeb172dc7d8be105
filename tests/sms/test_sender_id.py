"""A partner's SMS sender id: what phones show as the sender, set with the partner's profile."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from models.org import Partner

Login = Callable[[str], dict[str, str]]


GM_AMS = "gm.amsterdam@northwind.example"
GM_BER = "gm.berlin@northwind.example"


def _partner_id(engine: Engine, slug: str) -> int:
    with Session(engine) as session:
        partner = session.exec(select(Partner).where(Partner.slug == slug)).one()
        assert partner.id is not None
        return partner.id


def test_the_gm_sets_the_sender_id_and_reads_it_back(
    client: TestClient, login: Login, demo: Engine
) -> None:
    ams = _partner_id(demo, "amsterdam")
    changed = client.patch(
        f"/api/v1/partners/{ams}", json={"sms_sender_id": "Club AMS"}, headers=login(GM_AMS)
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["sms_sender_id"] == "Club AMS"
    cleared = client.patch(
        f"/api/v1/partners/{ams}", json={"sms_sender_id": ""}, headers=login(GM_AMS)
    )
    assert cleared.json()["sms_sender_id"] == ""


@pytest.mark.parametrize(
    "bad", ["AB", "ClubAmsterdam1", "31612345678", "Club<b>", "{{ 7*7 }}", "Club\nAMS"]
)
def test_a_sender_id_phones_cannot_show_is_a_422_naming_it(
    client: TestClient, login: Login, demo: Engine, bad: str
) -> None:
    ams = _partner_id(demo, "amsterdam")
    refused = client.patch(
        f"/api/v1/partners/{ams}", json={"sms_sender_id": bad}, headers=login(GM_AMS)
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "sms_sender_id"
    with Session(demo) as session:
        assert session.get(Partner, ams).sms_sender_id == ""  # type: ignore[union-attr]


def test_another_partners_gm_cannot_set_it(client: TestClient, login: Login, demo: Engine) -> None:
    ams = _partner_id(demo, "amsterdam")
    refused = client.patch(
        f"/api/v1/partners/{ams}", json={"sms_sender_id": "Berlin"}, headers=login(GM_BER)
    )
    assert refused.status_code in (403, 404)
    with Session(demo) as session:
        assert session.get(Partner, ams).sms_sender_id == ""  # type: ignore[union-attr]
