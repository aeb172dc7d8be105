"""Segments: the filter language, audience rules (consent, suppression), counts, suppression
idempotence and the partner boundary."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, select

from models.contact_schemas import SegmentFilter
from models.contacts import Contact, Suppression
from models.org import Brand, Partner
from scripts.demo.contacts import seed_demo_contacts
from services.segments import audience_breakdown, eligible_contact_ids
from services.suppression import is_suppressed, suppress

Login = Callable[[str], dict[str, str]]


def _people(engine: Engine) -> tuple[int, int, dict[str, int]]:
    with Session(engine) as s:
        partner = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        assert partner.id is not None
        specs = {
            "yoga-de": (["yoga"], "de", {"tier": "gold"}, "granted"),
            "yoga-nl": (["yoga", "family"], "nl", {"tier": "silver"}, "granted"),
            "spin": (["spinning"], "nl", {"tier": "gold"}, "granted"),
            "no-consent": (["yoga"], "nl", {"tier": "gold"}, "unknown"),
            "suppressed": (["yoga"], "nl", {"tier": "gold"}, "granted"),
        }
        ids = {}
        for key, (tags, locale, attrs, consent) in specs.items():
            c = Contact(
                brand_id=partner.brand_id,
                partner_id=partner.id,
                email=f"{key}@example.com",
                tags=tags,
                locale=locale,
                attributes=attrs,
                consent_status=consent,
            )
            s.add(c)
            s.flush()
            ids[key] = c.id or 0
        suppress(s, partner.brand_id, "Suppressed@EXAMPLE.com ", "bounced")
        s.commit()
        return partner.brand_id, partner.id, ids


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({}, ["yoga-de", "yoga-nl", "spin"]),
        ({"tags_any": ["yoga", "spinning"]}, ["yoga-de", "yoga-nl", "spin"]),
        ({"tags_all": ["yoga", "family"]}, ["yoga-nl"]),
        ({"locale_in": ["nl"]}, ["yoga-nl", "spin"]),
        ({"attributes": [{"key": "tier", "equals": "gold"}]}, ["yoga-de", "spin"]),
        ({"attributes": [{"key": "tier", "in": ["silver", "bronze"]}]}, ["yoga-nl"]),
        ({"tags_any": ["yoga"], "locale_in": ["de"]}, ["yoga-de"]),
    ],
)
def test_eligible_ids_follow_the_filter_minus_consent_and_suppression(
    demo: Engine, flt: dict[str, object], expected: list[str]
) -> None:
    brand_id, partner_id, ids = _people(demo)
    with Session(demo) as s:
        got = list(eligible_contact_ids(s, brand_id, partner_id, SegmentFilter.model_validate(flt)))
    assert got == sorted(ids[k] for k in expected)


def test_breakdown_partitions_the_matching_contacts(demo: Engine) -> None:
    brand_id, partner_id, _ = _people(demo)
    with Session(demo) as s:
        b = audience_breakdown(s, brand_id, partner_id, {"tags_any": ["yoga"]})
    assert (b.matching, b.eligible, b.suppressed, b.no_consent) == (4, 2, 1, 1)


@pytest.mark.parametrize(
    ("flt", "field"),
    [
        ({"tags_some": ["yoga"]}, "tags_some"),
        ({"attributes": [{"key": "tier", "regex": ".*"}]}, "attributes.0.regex"),
        ({"attributes": [{"key": "tier"}]}, "attributes.0"),
        ({"attributes": [{"key": "Tier; DROP", "equals": "x"}]}, "attributes.0.key"),
        ({"locale_in": ["klingon"]}, "locale_in"),
    ],
)
def test_unknown_operators_are_refused_naming_the_field(flt: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        SegmentFilter.model_validate(flt)
    assert any(".".join(str(p) for p in e["loc"]) == field for e in err.value.errors())


def test_segment_api_counts_and_refuses_bad_filters(
    client: TestClient, demo: Engine, login: Login
) -> None:
    _, partner_id, _ = _people(demo)
    gm = login("gm.amsterdam@northwind.example")
    url = f"/api/v1/partners/{partner_id}/segments"
    bad = client.post(
        url, json={"name": "x", "filter": {"tags_any": ["yoga"], "eval": "1"}}, headers=gm
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "filter.eval"
    made = client.post(url, json={"name": "Yoga", "filter": {"tags_any": ["yoga"]}}, headers=gm)
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    assert client.post(url, json={"name": "Yoga"}, headers=gm).status_code == 409
    reviewer = login("brand@northwind.example")  # HQ sees the count, not the rows
    count = client.get(f"{url}/{sid}/count", headers=reviewer)
    assert count.json() == {
        "matching": 4,
        "eligible": 2,
        "suppressed": 1,
        "no_consent": 1,
        "eligible_email": 2,
        "eligible_sms": 0,
    }
    berlin = login("gm.berlin@northwind.example")
    assert client.get(f"{url}/{sid}/count", headers=berlin).status_code == 404
    assert client.patch(f"{url}/{sid}", json={"name": "Mine"}, headers=berlin).status_code == 404
    assert client.delete(f"{url}/{sid}", headers=berlin).status_code == 404
    berlin_id = client.get("/api/v1/partners", headers=berlin).json()["items"][0]["id"]
    assert (
        client.get(f"/api/v1/partners/{berlin_id}/segments/{sid}", headers=berlin).status_code
        == 404
    )


def test_suppression_is_idempotent_and_normalised(demo: Engine) -> None:
    brand_id, _, _ = _people(demo)
    with Session(demo) as s:
        first = suppress(s, brand_id, "x@Example.com", "unsubscribed", "one")
        second = suppress(s, brand_id, " x@EXAMPLE.COM", "bounced", "two")
        s.commit()
        assert first.id == second.id and second.reason == "unsubscribed"
        assert is_suppressed(s, brand_id, "x@example.com")
        assert is_suppressed(s, brand_id, "X@example.com")  # listed without regard to case
        assert (
            len(s.exec(select(Suppression).where(Suppression.email == "x@example.com")).all()) == 1
        )


def test_suppression_api_removes_manual_entries_only(
    client: TestClient, demo: Engine, login: Login
) -> None:
    _people(demo)
    admin = login("admin@northwind.example")
    added = client.post("/api/v1/suppressions", json={"email": "m@example.com"}, headers=admin)
    assert added.status_code == 201
    again = client.post("/api/v1/suppressions", json={"email": "m@EXAMPLE.com"}, headers=admin)
    assert again.json()["id"] == added.json()["id"]
    listing = client.get("/api/v1/suppressions", headers=admin).json()
    bounced = next(i for i in listing["items"] if i["reason"] == "bounced")
    assert client.delete(f"/api/v1/suppressions/{bounced['id']}", headers=admin).status_code == 409
    assert (
        client.delete(f"/api/v1/suppressions/{added.json()['id']}", headers=admin).status_code
        == 204
    )
    contoso = login("admin@contoso.example")
    assert client.get("/api/v1/suppressions", headers=contoso).json()["total"] == 0
    assert (
        client.delete(f"/api/v1/suppressions/{bounced['id']}", headers=contoso).status_code == 404
    )
    bad = client.post("/api/v1/suppressions", json={"email": "nope"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "email"


def test_demo_contacts_are_deterministic_and_show_the_rules(demo: Engine) -> None:
    with Session(demo) as s:
        added = seed_demo_contacts(s)
        s.commit()
        assert seed_demo_contacts(s) == 0
        northwind = s.exec(select(Brand).where(Brand.slug == "northwind")).one()
        partners = s.exec(select(Partner).where(Partner.brand_id == northwind.id)).all()
        for partner in partners:
            n = len(s.exec(select(Contact).where(Contact.partner_id == partner.id)).all())
            assert 40 <= n <= 200, (partner.slug, n)
            b = audience_breakdown(s, partner.brand_id, partner.id or 0, {})
            assert b.no_consent > 0 and b.eligible > 0
        assert (
            sum(audience_breakdown(s, p.brand_id, p.id or 0, {}).suppressed for p in partners) > 0
        )
    assert added > 6 * 40
