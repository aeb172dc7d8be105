"""Brand blocks through the API: who may read and change them, 422s naming the field, the
audit trail, tenant isolation, and the snapshot rule (a changed block reaches the next template
version and never an approved one)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from models.audit import AuditEvent
from models.blocks import BrandBlock
from scripts.demo.organisation import seed_demo
from scripts.demo.templates import flyer_a5, open_day

Login = Callable[[str], dict[str, str]]
MARKETING = "marketing@northwind.example"
ADMIN = "admin@northwind.example"
REVIEWER = "brand@northwind.example"
VIEWER = "ops@northwind.example"
CONTOSO = "admin@contoso.example"
PARTNER_USERS = ("gm.amsterdam@northwind.example", "editor.berlin@northwind.example")

NEW_FOOTER = {
    "legal_text": "New legal text 2027.\n{{ 7*7 }} <script>alert(1)</script>",
    "address": "Neue Strasse 2, Berlin",
    "links": [{"label": "Mastodon", "url": "https://social.example/@northwind"}],
}


def errors(resp: httpx.Response) -> dict[str, str]:
    assert resp.status_code == 422, resp.text
    return {e["field"]: e["message"] for e in resp.json()["errors"]}


def test_hq_reads_the_demo_blocks(client: TestClient, login: Login) -> None:
    for who in (MARKETING, REVIEWER, VIEWER):
        listing = client.get("/api/v1/brand-blocks", headers=login(who))
        assert listing.status_code == 200, listing.text
        assert [b["kind"] for b in listing.json()] == ["footer", "header"]
    header = client.get("/api/v1/brand-blocks/header", headers=login(MARKETING)).json()
    assert header["version"] == 1 and header["content"]["logo_asset"] == "ast_logo0001"
    assert "Northwind Fitness" in header["html"] and header["text"].startswith("Northwind")
    unknown = client.get("/api/v1/brand-blocks/sidebar", headers=login(MARKETING))
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "kind"


def test_marketer_replaces_the_footer_as_text_and_it_is_audited(
    client: TestClient, login: Login, demo: Engine
) -> None:
    resp = client.put("/api/v1/brand-blocks/footer", json=NEW_FOOTER, headers=login(MARKETING))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["version"] == 2
    assert "&lt;script&gt;" in body["html"] and "<script>" not in body["html"]
    assert "{{ 7*7 }}" in body["html"] and "49" not in body["html"]
    assert "Mastodon: https://social.example/@northwind" in body["text"]
    # The same content again is no change: no new version, no audit event.
    again = client.put("/api/v1/brand-blocks/footer", json=NEW_FOOTER, headers=login(MARKETING))
    assert again.json()["version"] == 2
    with Session(demo) as s:
        events = s.exec(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "brandblock")
            .order_by(col(AuditEvent.id))
        ).all()
    assert [e.action for e in events] == ["brand_block.updated"]
    assert events[0].before is not None and events[0].before["version"] == 1
    assert events[0].after is not None and events[0].after["content"]["address"] == (
        "Neue Strasse 2, Berlin"
    )


def test_bad_blocks_are_422_naming_the_field(client: TestClient, login: Login) -> None:
    headers = login(MARKETING)
    put = "/api/v1/brand-blocks/"
    bad_link = {**NEW_FOOTER, "links": [{"label": "X", "url": "javascript:alert(1)"}]}
    assert "links.0.url" in errors(client.put(put + "footer", json=bad_link, headers=headers))
    many = {**NEW_FOOTER, "links": [{"label": "X", "url": "https://x.example"}] * 9}
    assert "links" in errors(client.put(put + "footer", json=many, headers=headers))
    assert "legal_text" in errors(client.put(put + "footer", json={}, headers=headers))
    header = {"brand_name": "Northwind", "logo_asset": "ast_nosuch01"}
    found = errors(client.put(put + "header", json=header, headers=headers))
    assert "not in the brand's asset library" in found["logo_asset"]
    for uid, why in (
        ("ast_amsclub01", "partner's own asset"),  # a partner's local upload
        ("ast_winter01", "expired"),  # licence expired
    ):
        body = {"brand_name": "Northwind", "logo_asset": uid}
        assert why in errors(client.put(put + "header", json=body, headers=headers))["logo_asset"]
    # A footer's fields are not a header.
    assert "brand_name" in errors(client.put(put + "header", json=NEW_FOOTER, headers=headers))
    ok = client.put(
        put + "header",
        json={"brand_name": "Northwind", "logo_asset": "ast_logo0001"},
        headers=headers,
    )
    assert ok.status_code == 200 and ok.json()["version"] == 2


def test_partner_users_and_readers_cannot_change_blocks(
    client: TestClient, login: Login, demo: Engine
) -> None:
    for who in PARTNER_USERS:
        assert client.get("/api/v1/brand-blocks", headers=login(who)).status_code == 403
        assert client.get("/api/v1/brand-blocks/footer", headers=login(who)).status_code == 403
        resp = client.put("/api/v1/brand-blocks/footer", json=NEW_FOOTER, headers=login(who))
        assert resp.status_code == 403
    for who in (REVIEWER, VIEWER):
        resp = client.put("/api/v1/brand-blocks/footer", json=NEW_FOOTER, headers=login(who))
        assert resp.status_code == 403
    with Session(demo) as s:
        assert {b.version for b in s.exec(select(BrandBlock)).all()} == {1}


def test_another_brands_blocks_are_invisible_and_its_own_are_separate(
    client: TestClient, login: Login, demo: Engine
) -> None:
    contoso = login(CONTOSO)
    assert client.get("/api/v1/brand-blocks", headers=contoso).json() == []
    assert client.get("/api/v1/brand-blocks/header", headers=contoso).status_code == 404
    # Northwind's logo is not in Contoso's library: answered as if it did not exist.
    stolen = {"brand_name": "Contoso Motors", "logo_asset": "ast_logo0001"}
    found = errors(client.put("/api/v1/brand-blocks/header", json=stolen, headers=contoso))
    assert "not in the brand's asset library" in found["logo_asset"]
    own = {"legal_text": "Contoso Motors BV"}
    assert client.put("/api/v1/brand-blocks/footer", json=own, headers=contoso).status_code == 200
    assert [
        b["content"]["legal_text"]
        for b in client.get("/api/v1/brand-blocks", headers=contoso).json()
    ] == ["Contoso Motors BV"]
    northwind = client.get("/api/v1/brand-blocks/footer", headers=login(MARKETING)).json()
    assert (
        northwind["version"] == 1 and "Northwind Fitness GmbH" in northwind["content"]["legal_text"]
    )


# The snapshot rule, through TemplateWorkflow -----------------------------------------------------


async def _preview(api: httpx.AsyncClient, login: Login, vid: int, fmt: str) -> str:
    values = {"headline": "Open day", "event_date": "2027-05-01"}
    resp = await api.post(
        f"/api/v1/versions/{vid}/preview?format={fmt}",
        json={"values": values},
        headers=login(MARKETING),
    )
    assert resp.status_code == 200, resp.text
    return resp.text


async def _act(
    api: httpx.AsyncClient, login: Login, who: str, vid: int, action: str, **b: Any
) -> None:
    resp = await api.post(f"/api/v1/versions/{vid}/{action}", json=b or None, headers=login(who))
    assert resp.status_code == 200, resp.text


async def test_a_changed_block_reaches_the_next_version_never_an_approved_one(
    app_with_worker: httpx.AsyncClient, login: Login
) -> None:
    api = app_with_worker
    body = {"name": "Open day", "content": open_day().model_dump(mode="json")}
    created = await api.post("/api/v1/templates", json=body, headers=login(MARKETING))
    assert created.status_code == 201, created.text
    v1 = created.json()["version"]["id"]
    template_id = created.json()["template"]["id"]
    assert "Northwind Fitness GmbH, Hauptstrasse 1" in await _preview(api, login, v1, "text")

    # A draft shows the brand's current blocks: HQ sees a block change while still editing.
    first = {"legal_text": "Footer as approved.", "address": "Approved Strasse 1"}
    put = await api.put("/api/v1/brand-blocks/footer", json=first, headers=login(MARKETING))
    assert put.status_code == 200, put.text
    assert "Footer as approved." in await _preview(api, login, v1, "html")

    await _act(api, login, MARKETING, v1, "submit")
    second = {"legal_text": "Footer changed after submission.", "address": "Later Weg 9"}
    put = await api.put("/api/v1/brand-blocks/footer", json=second, headers=login(MARKETING))
    assert put.status_code == 200, put.text
    await _act(api, login, REVIEWER, v1, "decision", decision="approve")

    for fmt in ("html", "text"):
        approved = await _preview(api, login, v1, fmt)
        assert "Footer as approved." in approved and "Approved Strasse 1" in approved
        assert "Footer changed after submission." not in approved

    v2 = await api.post(
        f"/api/v1/templates/{template_id}/versions", json={}, headers=login(MARKETING)
    )
    assert v2.status_code == 201, v2.text
    newer = await _preview(api, login, v2.json()["id"], "html")
    assert "Footer changed after submission." in newer and "Footer as approved." not in newer


LOGO_PIXELS = (400, 400)  # the demo logo's original


async def test_the_print_proof_carries_the_blocks(
    app_with_worker: httpx.AsyncClient, login: Login
) -> None:
    api = app_with_worker
    content = flyer_a5().model_dump(mode="json")
    content["print"]["html"] = (
        "{{ blocks.header }}" + content["print"]["html"] + "{{ blocks.footer }}"
    )
    body = {"name": "Flyer with blocks", "content": content}
    created = await api.post("/api/v1/templates", json=body, headers=login(MARKETING))
    assert created.status_code == 201, created.text
    resp = await api.post(
        f"/api/v1/versions/{created.json()['version']['id']}/preview?format=pdf",
        json={"values": {"headline": "Kom langs!", "event_date": "2027-05-01"}, "locale": "nl"},
        headers=login(MARKETING),
    )
    assert resp.status_code == 200, resp.text
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(resp.content)).pages)
    assert "Stronger together, in every club" in text  # the header's tagline
    assert "Registered at Amtsgericht" in text and "Instagram" in text
    # The header's logo is embedded at its original resolution, read from the asset store.
    sizes = [
        (image.image.width, image.image.height)
        for page in PdfReader(io.BytesIO(resp.content)).pages
        for image in page.images
        if image.image is not None
    ]
    assert LOGO_PIXELS in sizes, sizes


def test_seeding_again_adds_no_block_and_keeps_hq_edits(
    client: TestClient, login: Login, demo: Engine, demo_hash: str
) -> None:
    put = client.put("/api/v1/brand-blocks/footer", json=NEW_FOOTER, headers=login(MARKETING))
    assert put.status_code == 200, put.text
    with Session(demo) as s:
        seed_demo(s, demo_hash)
        s.commit()
    with Session(demo) as s:
        rows = s.exec(select(BrandBlock).order_by(col(BrandBlock.kind))).all()
    assert [(b.kind, b.version) for b in rows] == [("footer", 2), ("header", 1)]
    assert rows[0].content["address"] == "Neue Strasse 2, Berlin"
