"""Keyset paging of the lists: walks see every row once while rows are added, sorts, the
cursor's refusals (422 naming the field), the tenant boundary, the limits."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from core import signing
from core.errors import FieldError
from domain.states import TaskKind
from models.campaigns import ApprovalTask, Campaign, PartnerCampaign
from models.org import Brand, Partner, Region, User
from models.templates import TemplateVersion
from services import paging
from services.org import PARTNERS, REGIONS

Login = Callable[[str], dict[str, str]]
ADMIN = "admin@northwind.example"
MARKETING = "marketing@northwind.example"
EDITOR_AMS = "editor.amsterdam@northwind.example"
GM_BERLIN = "gm.berlin@northwind.example"
CONTOSO_ADMIN = "admin@contoso.example"
SECRET = "s" * 32


def _brand(engine: Engine, slug: str = "northwind") -> int:
    with Session(engine) as s:
        found = s.exec(select(Brand.id).where(Brand.slug == slug)).one()
        assert found is not None
        return found


def add_regions(engine: Engine, names: list[str], slug: str = "northwind") -> None:
    brand_id = _brand(engine, slug)
    with Session(engine) as s:
        for name in names:
            s.add(Region(brand_id=brand_id, name=name))
        s.commit()


def walk(
    client: TestClient,
    url: str,
    headers: dict[str, str],
    params: dict[str, Any],
    between: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Every item of a list, page by page; `between(n)` runs before page n + 1."""
    items: list[dict[str, Any]] = []
    cursor = None
    for n in range(1000):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = client.get(url, params=query, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= params.get("limit", 50)
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert page["items"], "a page with a next cursor has rows"
        if between:
            between(n)
    raise AssertionError("the walk did not end")


# The cursor itself ---------------------------------------------------------------------------


def test_cursor_round_trip_and_refusals() -> None:
    moment = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    token = paging.encode_cursor(SECRET, REGIONS, "-created_at", (moment, 7))
    assert paging.decode_cursor(SECRET, REGIONS, "-created_at", token) == (moment, 7)

    def refused(secret: str, listing: paging.Listing, sort: str, cursor: str) -> str:
        with pytest.raises(FieldError) as err:
            paging.decode_cursor(secret, listing, sort, cursor)
        assert err.value.errors == [{"field": "cursor", "message": err.value.errors[0]["message"]}]
        return str(err.value.errors[0]["message"])

    body, _, mac = token.partition(".")
    assert "valid" in refused(SECRET, REGIONS, "-created_at", "not-a-cursor")
    assert "valid" in refused("x" * 32, REGIONS, "-created_at", token)  # other key
    # A payload altered (another position), re-encoded canonically, with the old MAC.
    forged = json.loads(signing.b64decode(body) or b"")
    forged["k"][1] = 1
    altered = signing.b64encode(json.dumps(forged, separators=(",", ":")).encode())
    assert "valid" in refused(SECRET, REGIONS, "-created_at", f"{altered}.{mac}")
    assert "valid" in refused(SECRET, REGIONS, "-created_at", token + "=")
    assert "another list" in refused(SECRET, PARTNERS, "-created_at", token)
    assert "sort=-created_at" in refused(SECRET, REGIONS, "created_at", token)
    # A signed cursor whose values have the wrong type is refused too, never passed to SQL.
    bad = json.dumps({"l": "regions", "s": "name", "k": [5, 1]}).encode()
    assert "valid" in refused(SECRET, REGIONS, "name", signing.sign(SECRET, paging.CURSOR, bad))
    with pytest.raises(FieldError) as err:
        REGIONS.order("colour")
    assert err.value.errors[0]["field"] == "sort"


# Walks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["name", "-name", "id", "-id", "-created_at"])
def test_walk_sees_each_row_once_while_rows_are_added(
    client: TestClient, demo: Engine, login: Login, sort: str
) -> None:
    add_regions(demo, [f"Area {i:02}" for i in range(0, 40, 2)])
    headers = login(ADMIN)
    before = {r["id"] for r in walk(client, "/api/v1/regions", headers, {"limit": 200})}

    def insert(n: int) -> None:  # rows before and after the walk's position, on 8 pages
        if n < 8:
            add_regions(demo, [f"Area {2 * n + 1:02}", f"Area {90 - n:02}", f"Aardvark {n}"])

    seen = walk(client, "/api/v1/regions", headers, {"limit": 3, "sort": sort}, insert)
    ids = [r["id"] for r in seen]
    assert len(ids) == len(set(ids)), "no row twice"
    assert before <= set(ids), "every row that existed throughout"
    key = sort.removeprefix("-")
    values = [(r[key], r["id"]) for r in seen]
    assert values == sorted(values, reverse=sort.startswith("-"))


def test_total_on_the_first_page_only_and_offset_is_deprecated(
    client: TestClient, demo: Engine, login: Login
) -> None:
    add_regions(demo, [f"Zone {i}" for i in range(7)])
    headers = login(ADMIN)
    first = client.get("/api/v1/regions", params={"limit": 2}, headers=headers).json()
    assert first["total"] >= 7 and first["next_cursor"]
    later = client.get(
        "/api/v1/regions", params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers
    ).json()
    assert later["total"] is None and later["offset"] == 0
    skipped = client.get("/api/v1/regions", params={"limit": 2, "offset": 2}, headers=headers)
    assert [r["id"] for r in skipped.json()["items"]] == [r["id"] for r in later["items"]]
    spec = client.get("/openapi.json").json()["paths"]["/api/v1/regions"]["get"]["parameters"]
    assert next(p for p in spec if p["name"] == "offset")["deprecated"] is True
    assert "`-name`" in next(p for p in spec if p["name"] == "sort")["description"]


def test_total_is_capped(monkeypatch: pytest.MonkeyPatch, demo: Engine) -> None:
    monkeypatch.setattr(paging, "TOTAL_CAP", 3)
    add_regions(demo, [f"Cap {i}" for i in range(5)])
    with Session(demo) as s:
        stmt = select(Region)
        assert paging.capped_count(s, stmt) is None
        assert paging.capped_count(s, stmt.where(Region.name == "Cap 1")) == 1


# Refusals ------------------------------------------------------------------------------------


def fields(r: Any) -> list[str]:
    return [e["field"] for e in r.json().get("errors", [])]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/regions",
        "/api/v1/partners",
        "/api/v1/users",
        "/api/v1/memberships",
        "/api/v1/api-tokens",
        "/api/v1/campaigns",
        "/api/v1/partner-campaigns",
        "/api/v1/tasks",
        "/api/v1/assets",
        "/api/v1/audit",
        "/api/v1/outbox",
        "/api/v1/suppressions",
        "/api/v1/templates",
        "/api/v1/approval-policies",
        "/api/v1/me/delegations",
        "/api/v1/claims",
    ],
)
def test_every_list_refuses_bad_paging_by_field(client: TestClient, login: Login, url: str) -> None:
    headers = login(ADMIN)
    ok = client.get(url, headers=headers)
    assert ok.status_code == 200, ok.text
    assert "next_cursor" in ok.json()
    for params, field in (
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": "eyJsIjoicmVnaW9ucyJ9.AAAA"}, "cursor"),
        ({"sort": "password_hash"}, "sort"),
        ({"limit": 201}, "limit"),
        ({"limit": 0}, "limit"),
        ({"offset": 10_001}, "offset"),
    ):
        r = client.get(url, params=params, headers=headers)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert fields(r) == [field], (params, r.text)


def test_a_cursor_of_another_list_or_order_is_refused(client: TestClient, login: Login) -> None:
    headers = login(ADMIN)
    regions = client.get("/api/v1/regions", params={"limit": 1}, headers=headers).json()
    cursor = regions["next_cursor"]
    assert cursor
    r = client.get("/api/v1/partners", params={"cursor": cursor}, headers=headers)
    assert r.status_code == 422 and fields(r) == ["cursor"]
    r = client.get("/api/v1/regions", params={"cursor": cursor, "sort": "-id"}, headers=headers)
    assert r.status_code == 422 and fields(r) == ["cursor"]
    r = client.get("/api/v1/regions", params={"cursor": cursor, "offset": 1}, headers=headers)
    assert r.status_code == 422 and fields(r) == ["offset"]


# The tenant boundary -------------------------------------------------------------------------


def _campaign_with_partners(engine: Engine, slugs: list[str], copies: int) -> int:
    """A campaign row of Northwind and `copies` partner campaigns per partner (more campaigns)."""
    brand_id = _brand(engine)
    with Session(engine) as s:
        version = s.exec(
            select(TemplateVersion).where(TemplateVersion.brand_id == brand_id)
        ).first()
        user = s.exec(select(User).where(User.email == MARKETING)).one()
        assert version is not None and version.id is not None and user.id is not None
        start = datetime(2030, 5, 1, tzinfo=UTC)
        campaign_ids = []
        for n in range(copies):
            campaign = Campaign(
                brand_id=brand_id,
                name=f"Paging {n}",
                template_version_id=version.id,
                personalise_until=start,
                send_by=start + timedelta(days=7),
                created_by=user.id,
            )
            s.add(campaign)
            s.flush()
            campaign_ids.append(campaign.id or 0)
        for slug in slugs:
            partner = s.exec(select(Partner).where(Partner.slug == slug)).one()
            for cid in campaign_ids:
                s.add(
                    PartnerCampaign(
                        campaign_id=cid,
                        brand_id=brand_id,
                        region_id=partner.region_id,
                        partner_id=partner.id or 0,
                        workflow_id=f"partner-campaign-{cid}-{partner.id}",
                    )
                )
        s.commit()
        return campaign_ids[0]


def test_a_cursor_from_another_partners_list_shows_nothing_of_that_partner(
    client: TestClient, demo: Engine, login: Login
) -> None:
    _campaign_with_partners(demo, ["amsterdam", "berlin"], copies=4)
    with Session(demo) as s:
        amsterdam = s.exec(select(Partner.id).where(Partner.slug == "amsterdam")).one()
    ams = client.get(
        "/api/v1/partner-campaigns", params={"limit": 1}, headers=login(EDITOR_AMS)
    ).json()
    assert {r["partner_id"] for r in ams["items"]} == {amsterdam}
    cursor = ams["next_cursor"]
    assert cursor
    for who in (GM_BERLIN, CONTOSO_ADMIN):
        r = client.get(
            "/api/v1/partner-campaigns",
            params={"limit": 200, "cursor": cursor},
            headers=login(who),
        )
        assert r.status_code == 200, r.text
        assert all(row["partner_id"] != amsterdam for row in r.json()["items"])
    # Contoso's admin walking with it sees Contoso's rows only (none here), never Northwind's.
    r = client.get(
        "/api/v1/partner-campaigns", params={"cursor": cursor}, headers=login(CONTOSO_ADMIN)
    )
    assert r.json()["items"] == []


# Filters and sorts on the per-campaign list ------------------------------------------------


def test_partner_campaigns_filter_by_region_name_state_and_sort_by_partner_name(
    client: TestClient, demo: Engine, login: Login
) -> None:
    campaign_id = _campaign_with_partners(
        demo, ["amsterdam", "berlin", "hamburg", "munich", "vienna"], copies=1
    )
    headers = login(MARKETING)
    url = "/api/v1/partner-campaigns"
    base = {"campaign_id": campaign_id, "limit": 2}
    names = [
        r["partner_name"] for r in walk(client, url, headers, {**base, "sort": "partner_name"})
    ]
    assert names == sorted(names) and len(names) == 5
    desc = walk(client, url, headers, {**base, "sort": "-partner_name"})
    assert [r["partner_name"] for r in desc] == names[::-1]
    with Session(demo) as s:
        south = s.exec(select(Region.id).where(Region.name == "South")).one()
    in_south = walk(client, url, headers, {**base, "region_id": south})
    assert {r["partner_name"].split()[-1] for r in in_south} == {"Munich", "Vienna"}
    found = walk(client, url, headers, {**base, "q": "BURG"})
    assert [r["partner_name"].split()[-1] for r in found] == ["Hamburg"]
    assert walk(client, url, headers, {**base, "state": "sent"}) == []
    assert len(walk(client, url, headers, {**base, "state": "invited"})) == 5


# The inbox ------------------------------------------------------------------------------------


def test_tasks_walk_by_due_time_and_newest_first(
    client: TestClient, demo: Engine, login: Login
) -> None:
    """Personalise tasks of Amsterdam, some due (two at the same time), some not: a walk one
    task a page sees each once, in order, and Berlin's GM sees none of them."""
    _campaign_with_partners(demo, ["amsterdam", "berlin"], copies=6)
    now = datetime.now(UTC)
    with Session(demo) as s:
        rows = s.exec(select(PartnerCampaign)).all()
        for n, pc in enumerate(rows):
            due = None if n % 3 == 0 else now + timedelta(hours=n // 2 - 2)
            s.add(
                ApprovalTask(
                    partner_campaign_id=pc.id or 0,
                    campaign_id=pc.campaign_id,
                    brand_id=pc.brand_id,
                    region_id=pc.region_id,
                    partner_id=pc.partner_id,
                    kind=TaskKind.personalise,
                    due_at=due,
                    created_at=now - timedelta(minutes=n % 4),
                )
            )
        s.commit()
        amsterdam = s.exec(select(Partner.id).where(Partner.slug == "amsterdam")).one()
    headers = login(EDITOR_AMS)
    everything = walk(client, "/api/v1/tasks", headers, {"limit": 200})
    assert len(everything) == 6 and {t["partner_id"] for t in everything} == {amsterdam}
    by_due = walk(client, "/api/v1/tasks", headers, {"limit": 1, "sort": "due_at"})
    assert sorted(t["id"] for t in by_due) == sorted(t["id"] for t in everything)
    far = "9999-12-31T00:00:00+00:00"
    keys = [
        ((t["due_at"] and datetime.fromisoformat(t["due_at"]).isoformat()) or far) for t in by_due
    ]
    assert keys == sorted(keys) and keys[-1] == far
    assert by_due[0]["overdue"] is True
    newest = walk(client, "/api/v1/tasks", headers, {"limit": 2, "sort": "-created_at"})
    stamps = [(t["created_at"], t["id"]) for t in newest]
    assert stamps == sorted(stamps, reverse=True) and len(stamps) == 6
    overdue = walk(client, "/api/v1/tasks", headers, {"limit": 1, "overdue": True})
    assert overdue and all(t["overdue"] for t in overdue)
    cursor = client.get("/api/v1/tasks", params={"limit": 1}, headers=headers).json()
    r = client.get(
        "/api/v1/tasks", params={"cursor": cursor["next_cursor"]}, headers=login(GM_BERLIN)
    )
    assert r.status_code == 200 and all(t["partner_id"] != amsterdam for t in r.json()["items"])
