"""The brand's tracking switches: off by default, brand admins change them (API and portal),
each change audited, nobody else may, and a brand's admin changes only their own brand."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.settings import Settings
from models.audit import AuditEvent
from models.org import Brand
from tests.delivery.test_outbox import portal_cookie

URL = "/api/v1/brand/tracking"
Login = Callable[[str], dict[str, str]]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def switches(engine: Engine, slug: str) -> tuple[bool, bool]:
    with Session(engine) as s:
        brand = s.exec(select(Brand).where(Brand.slug == slug)).one()
        return brand.open_tracking, brand.click_tracking


def tracking_events(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as s:
        return list(s.exec(select(AuditEvent).where(AuditEvent.action == "brand.tracking")))


def test_off_by_default_and_an_admin_turns_clicks_on_audited(
    client: TestClient, login: Login, demo: Engine
) -> None:
    admin = login("admin@northwind.example")
    assert client.get(URL, headers=admin).json() == {
        "open_tracking": False,
        "click_tracking": False,
    }
    resp = client.put(URL, json={"click_tracking": True}, headers=admin)
    assert resp.status_code == 200 and resp.json() == {
        "open_tracking": False,
        "click_tracking": True,
    }
    assert switches(demo, "northwind") == (False, True)
    assert switches(demo, "contoso") == (False, False)
    [entry] = tracking_events(demo)
    assert entry.before == {"open_tracking": False, "click_tracking": False}
    assert entry.after == {"open_tracking": False, "click_tracking": True}
    # The same values again change nothing and add no event.
    assert client.put(URL, json={"click_tracking": True}, headers=admin).status_code == 200
    assert len(tracking_events(demo)) == 1


def test_only_brand_admins_may_switch_and_bad_bodies_name_the_field(
    client: TestClient, login: Login, demo: Engine
) -> None:
    for email in (
        "marketing@northwind.example",
        "north@northwind.example",
        "gm.amsterdam@northwind.example",
        "ops@northwind.example",
    ):
        resp = client.put(URL, json={"open_tracking": True}, headers=login(email))
        assert resp.status_code == 403, email
    admin = login("admin@northwind.example")
    bad = client.put(URL, json={"open_tracking": "maybe"}, headers=admin)
    assert bad.status_code == 422 and "open_tracking" in bad.text
    extra = client.put(URL, json={"pixel": True}, headers=admin)
    assert extra.status_code == 422 and "pixel" in extra.text
    assert switches(demo, "northwind") == (False, False)
    assert tracking_events(demo) == []


def test_the_portal_form_switches_with_the_csrf_token(
    client: TestClient, demo: Engine, settings: Settings
) -> None:
    cookies = portal_cookie(settings, demo, "admin@northwind.example")
    client.cookies.update(cookies)
    settings_page = client.get("/settings")
    assert 'href="/settings/tracking"' in settings_page.text
    page = client.get("/settings/tracking")
    assert page.status_code == 200
    token = CSRF.findall(page.text)[0]
    refused = client.post("/settings/tracking", data={"open_tracking": "on"})
    assert refused.status_code == 403
    resp = client.post(
        "/settings/tracking",
        data={"open_tracking": "on", "csrf_token": token},
        follow_redirects=False,
    )
    assert resp.status_code == 303
    assert switches(demo, "northwind") == (True, False)
    client.cookies.clear()
    client.cookies.update(portal_cookie(settings, demo, "gm.amsterdam@northwind.example"))
    assert 'href="/settings/tracking"' not in client.get("/settings").text
    assert client.get("/settings/tracking").status_code == 403


def test_the_demo_seed_switches_the_demo_brand_on_until_hq_chooses(
    client: TestClient, login: Login, demo: Engine
) -> None:
    """`make up` shows tracked links; a re-seed never overrides what HQ set since."""
    from scripts.demo.tracking import seed_demo_tracking

    with Session(demo) as s:
        assert seed_demo_tracking(s) is True
        s.commit()
    assert switches(demo, "northwind") == (True, True)
    assert switches(demo, "contoso") == (False, False)
    admin = login("admin@northwind.example")
    assert client.put(URL, json={"open_tracking": False}, headers=admin).status_code == 200
    with Session(demo) as s:
        assert seed_demo_tracking(s) is False
        s.commit()
    assert switches(demo, "northwind") == (False, True)
