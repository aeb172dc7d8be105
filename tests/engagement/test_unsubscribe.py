"""Unsubscribe links: GET asks without acting, POST and RFC 8058 one-click suppress, altered
tokens get a 404 page, and contact data on the page is escaped."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.settings import Settings
from models.contacts import Contact
from models.org import Partner
from services.engagement.unsubscribe import (
    UnsubscribeToken,
    list_unsubscribe_headers,
    make_token,
    read_token,
    unsubscribe_url,
)
from services.suppression import is_suppressed

NAME = '<img src=x onerror="alert(1)">{{ 7*7 }}'


def _contact(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as s:
        partner = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        contact = Contact(
            brand_id=partner.brand_id,
            partner_id=partner.id or 0,
            email="Reader@example.com",
            name=NAME,
            consent_status="granted",
        )
        s.add(contact)
        s.commit()
        return partner.brand_id, partner.id or 0, contact.id or 0


def _path(settings: Settings, engine: Engine, delivery: str = "") -> tuple[str, int]:
    brand_id, partner_id, contact_id = _contact(engine)
    url = unsubscribe_url(settings, brand_id, partner_id, contact_id, delivery)
    assert url.startswith(settings.public_base_url.rstrip("/") + "/u/")
    return url.removeprefix(settings.public_base_url.rstrip("/")), brand_id


def _suppressed(engine: Engine, brand_id: int) -> bool:
    with Session(engine) as s:
        return is_suppressed(s, brand_id, "reader@example.com")


def test_get_shows_an_escaped_page_and_changes_nothing(
    client: TestClient, demo: Engine, settings: Settings
) -> None:
    path, brand_id = _path(settings, demo)
    resp = client.get(path)
    assert resp.status_code == 200
    assert "<img" not in resp.text and "&lt;img src=x" in resp.text
    assert "{{ 7*7 }}" in resp.text and "49" not in resp.text
    assert "R***@example.com" in resp.text and '<form method="post">' in resp.text
    assert resp.headers["cache-control"] == "no-store"
    assert not _suppressed(demo, brand_id)


def test_post_unsubscribes_once_and_is_idempotent(
    client: TestClient, demo: Engine, settings: Settings
) -> None:
    path, brand_id = _path(settings, demo, "dlv_42")
    for _ in range(2):
        resp = client.post(path)
        assert resp.status_code == 200 and "Je bent afgemeld" in resp.text  # the member's Dutch
    assert _suppressed(demo, brand_id)


def test_one_click_post_unsubscribes_at_once(
    client: TestClient, demo: Engine, settings: Settings
) -> None:
    path, brand_id = _path(settings, demo)
    headers = list_unsubscribe_headers(settings.public_base_url.rstrip("/") + path)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    target = headers["List-Unsubscribe"].strip("<>")
    assert target.endswith(path + "/one-click")
    resp = client.post(
        target.removeprefix(settings.public_base_url.rstrip("/")),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status_code == 200
    assert _suppressed(demo, brand_id)


def test_tampered_and_foreign_tokens_get_a_404_page(
    client: TestClient, demo: Engine, settings: Settings
) -> None:
    path, brand_id = _path(settings, demo)
    token = path.removeprefix("/u/")
    body, mac = token.split(".")
    other = settings.model_copy(update={"secret_key": type(settings.secret_key)("x" * 40)})
    forged = make_token(other, read_token(settings, token) or UnsubscribeToken(0, 0, 0))
    bad = [
        f"{body}.{mac[:-2]}AA",
        f"{body[:-2]}AA.{mac}",
        "garbage",
        "a.b.c",
        "%00",
        forged,
    ]
    for raw in bad:
        for method, suffix in (("GET", ""), ("POST", ""), ("POST", "/one-click")):
            resp = client.request(method, f"/u/{raw}{suffix}")
            assert resp.status_code == 404, (raw, method, resp.status_code)
    assert not _suppressed(demo, brand_id)


def test_a_token_names_its_own_partner_only(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    brand_id, _partner_id, contact_id = _contact(demo)
    with Session(demo) as s:
        berlin = s.exec(select(Partner).where(Partner.slug == "berlin")).one()
    url = unsubscribe_url(settings, brand_id, berlin.id or 0, contact_id)
    path = url.removeprefix(settings.public_base_url.rstrip("/"))
    assert client.post(path).status_code == 404
    assert not _suppressed(demo, brand_id)


def test_token_round_trip() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    token = UnsubscribeToken(1, 2, 3, "dlv-9_x")
    assert read_token(settings, make_token(settings, token)) == token
    assert read_token(
        settings, make_token(settings, UnsubscribeToken(1, 2, 3))
    ) == UnsubscribeToken(1, 2, 3)
