"""The catalogue's portal pages without a browser: HQ's form refuses bad input next to the
field and keeps what was typed, partners see the cards of their region, a refused order is
shown on the catalogue page; and the demo's items (seeded twice: once)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.settings import Settings
from models.catalogue import CatalogueItem
from scripts.demo.catalogue import seed_demo_catalogue
from tests.catalogue.helpers import EDITOR_HAM, MARKETING, open_day_version
from tests.delivery.test_outbox import portal_cookie
from tests.portal.test_portal import token_of


def _as(client: TestClient, settings: Settings, demo: Engine, email: str, page: str) -> str:
    """Signs the client in as `email`; returns the CSRF token of `page`."""
    client.cookies.clear()
    client.cookies.update(portal_cookie(settings, demo, email))
    shown = client.get(page)
    assert shown.status_code == 200, shown.text
    return token_of(shown.text)


def test_hq_creates_and_publishes_from_the_management_page(
    client: TestClient, demo: Engine, settings: Settings
) -> None:
    csrf = _as(client, settings, demo, MARKETING, "/catalogue/manage")
    form = {
        "csrf_token": csrf,
        "title": "Open day <b>now</b>",
        "description": "",
        "template_version_id": str(open_day_version(demo)),
        "personalise_days": "7",
        "send_within_days": "14",
        "approval_policy": "gm",
        "budget_hint": "-5",
        "budget_currency": "EUR",
        "publish": "1",
    }
    refused = client.post("/catalogue/manage", data=form, follow_redirects=False)
    assert refused.status_code == 422
    assert 'id="e-budget_hint"' in refused.text
    assert "Open day &lt;b&gt;now&lt;/b&gt;" in refused.text  # kept, and shown as text
    made = client.post(
        "/catalogue/manage", data={**form, "budget_hint": "250"}, follow_redirects=False
    )
    assert made.status_code == 303 and made.headers["location"] == "/catalogue/manage"
    with Session(demo) as s:
        item = s.exec(select(CatalogueItem)).one()
    assert item.state == "published" and item.budget_hint_minor == 25000

    _as(client, settings, demo, EDITOR_HAM, "/catalogue")
    page = client.get("/catalogue").text
    assert f'id="item-{item.id}"' in page and "EUR 250.00" in page
    assert "<b>now</b>" not in page
    assert client.get("/catalogue/manage").status_code == 403


def test_a_refused_order_is_explained_on_the_catalogue_page(
    client: TestClient, demo: Engine, settings: Settings
) -> None:
    with Session(demo) as s:
        items = seed_demo_catalogue(s)
        s.commit()
        open_day = next(i for i in items if i.title == "Open day")
        open_day.state = "withdrawn"  # HQ withdrew it while the partner had the page open
        s.add(open_day)
        s.commit()
        item_id = open_day.id
    csrf = _as(client, settings, demo, EDITOR_HAM, "/catalogue")
    resp = client.post(
        f"/catalogue/{item_id}/order",
        data={"csrf_token": csrf, "order_key": "k1"},
        follow_redirects=False,
    )
    assert resp.status_code == 404
    assert 'id="order-error"' in resp.text and "not found" in resp.text


def test_the_demo_catalogue_is_seeded_once_and_offered_by_region(
    client: TestClient, demo: Engine, settings: Settings
) -> None:
    with Session(demo) as s:
        first = seed_demo_catalogue(s)
        s.commit()
        again = seed_demo_catalogue(s)
        s.commit()
        assert len(s.exec(select(CatalogueItem)).all()) == 2
    assert sorted(i.title for i in first) == sorted(i.title for i in again)
    _as(client, settings, demo, "editor.munich@northwind.example", "/catalogue")
    munich = client.get("/catalogue").text
    assert "Summer open day (South)" in munich and "Open day" in munich
    _as(client, settings, demo, EDITOR_HAM, "/catalogue")
    hamburg = client.get("/catalogue").text
    assert "Summer open day (South)" not in hamburg and "Open day" in hamburg
