"""The portal without a browser: sign-in, session expiry, CSRF on every form, and pages that
answer within the caller's reach (the browser journey is tests/portal/test_portal_browser.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from api.portal import session as cookies
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.templates import TemplateVersion
from scripts.demo.organisation import DEMO_PASSWORD
from scripts.demo.templates import open_day
from storage.local import LocalBlobStore
from tests.content.test_templates_lifecycle import (
    REPLACE_BOMB,
    partner_campaign_on_bomb,
    with_line_3,
)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def portal(settings: Settings, demo: Engine, blob_store: LocalBlobStore) -> Iterator[TestClient]:
    """A browser-like client: https (the cookie is Secure outside dev), no auto-redirects."""
    app = create_app(
        settings, engine=demo, temporal=LazyTemporalClient(settings), blob_store=blob_store
    )
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def token_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, email: str) -> str:
    """Signs in through the form; returns the CSRF token of the new session."""
    page = client.get("/login")
    resp = client.post(
        "/login",
        data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token_of(page.text)},
    )
    assert resp.status_code == 303, resp.text
    return token_of(client.get("/inbox").text)


def test_anonymous_pages_send_to_sign_in(portal: TestClient) -> None:
    resp = portal.get("/partner-campaigns/1?x=1")
    assert resp.status_code == 303
    assert resp.headers["location"] == "/login?next=/partner-campaigns/1%3Fx%3D1"


def test_sign_in_sets_a_hardened_cookie_and_sign_out_clears_it(portal: TestClient) -> None:
    page = portal.get("/login")
    resp = portal.post(
        "/login",
        data={
            "email": "gm.amsterdam@northwind.example",
            "password": DEMO_PASSWORD,
            "csrf_token": token_of(page.text),
            "next": "/my-campaigns",
        },
    )
    assert resp.status_code == 303
    assert resp.headers["location"] == "/my-campaigns"
    cookie = resp.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    inbox = portal.get("/inbox")
    assert inbox.status_code == 200 and "Inbox" in inbox.text
    out = portal.post("/logout", data={"csrf_token": token_of(inbox.text)})
    assert out.headers["location"] == "/login?signed_out=true"
    assert portal.get("/inbox").status_code == 303


def test_wrong_password_is_refused_in_plain_words(portal: TestClient) -> None:
    page = portal.get("/login")
    resp = portal.post(
        "/login",
        data={
            "email": "gm.amsterdam@northwind.example",
            "password": "nope",
            "csrf_token": token_of(page.text),
        },
    )
    assert resp.status_code == 401
    assert "Incorrect email or password" in resp.text


def test_sign_in_redirects_only_within_the_site(portal: TestClient) -> None:
    page = portal.get("/login")
    resp = portal.post(
        "/login",
        data={
            "email": "ops@northwind.example",
            "password": DEMO_PASSWORD,
            "csrf_token": token_of(page.text),
            "next": "//evil.example/x",
        },
    )
    assert resp.headers["location"] == "/inbox"


def test_a_form_post_without_the_csrf_token_is_refused(portal: TestClient) -> None:
    token = sign_in(portal, "marketing@northwind.example")
    form = {"name": "No token", "target_kind": "all"}
    refused = portal.post("/campaigns", data=form)
    assert refused.status_code == 403
    assert "form has expired" in refused.text
    wrong = portal.post("/campaigns", data={**form, "csrf_token": "x" + token})
    assert wrong.status_code == 403
    # The header htmx sends is accepted instead of the field; the form then answers itself.
    accepted = portal.post("/campaigns", data=form, headers={"X-CSRF-Token": token})
    assert accepted.status_code == 422


def test_sign_in_itself_needs_the_token(portal: TestClient) -> None:
    portal.get("/login")
    resp = portal.post("/login", data={"email": "ops@northwind.example", "password": DEMO_PASSWORD})
    assert resp.status_code == 403


def test_a_token_from_another_session_is_refused(portal: TestClient, settings: Settings) -> None:
    sign_in(portal, "marketing@northwind.example")
    other = cookies.csrf_token(settings, cookies.new_session(settings, 1))
    assert portal.post("/logout", data={"csrf_token": other}).status_code == 403


def test_an_expired_session_signs_out(portal: TestClient, settings: Settings) -> None:
    sign_in(portal, "marketing@northwind.example")
    raw = portal.cookies.get(cookies.COOKIE)
    found = cookies.decode(settings, raw)
    assert found is not None and found.user_id is not None
    later = found.expires_at + 1
    assert cookies.decode(settings, raw, now=later) is None
    old = cookies.new_session(settings, found.user_id, now=found.issued_at - 10**6)
    portal.cookies.clear()
    portal.cookies.set(cookies.COOKIE, cookies.encode(settings, old))
    assert portal.get("/inbox").status_code == 303


def test_a_tampered_cookie_is_no_session(settings: Settings) -> None:
    raw = cookies.encode(settings, cookies.new_session(settings, 7))
    body, _, sig = raw.partition(".")
    assert cookies.decode(settings, body[:-2] + "AA." + sig) is None


@pytest.mark.parametrize(
    "email,path,status",
    [
        ("marketing@northwind.example", "/campaigns", 200),
        ("marketing@northwind.example", "/campaigns/new", 200),
        ("marketing@northwind.example", "/templates", 200),
        ("marketing@northwind.example", "/assets", 200),
        ("marketing@northwind.example", "/audit", 200),
        ("editor.amsterdam@northwind.example", "/my-campaigns", 200),
        ("editor.amsterdam@northwind.example", "/campaigns", 403),
        ("editor.amsterdam@northwind.example", "/audit", 403),
        ("gm.berlin@northwind.example", "/campaigns/new", 403),
        ("ops@northwind.example", "/campaigns/new", 403),
        ("brand@northwind.example", "/inbox", 200),
        ("marketing@northwind.example", "/outbox", 200),
        ("editor.amsterdam@northwind.example", "/outbox", 403),
    ],
)
def test_pages_by_role(portal: TestClient, email: str, path: str, status: int) -> None:
    sign_in(portal, email)
    resp = portal.get(path)
    assert resp.status_code == status, resp.text[:500]
    assert resp.headers["content-type"].startswith("text/html")


def test_static_files_are_served_from_the_project(portal: TestClient) -> None:
    resp = portal.get("/static/vendor/htmx-2.0.11.min.js")
    assert resp.status_code == 200 and "htmx" in resp.text[:2000]
    assert portal.get("/static/../../core/settings.py").status_code == 404


def test_a_csrf_token_that_is_not_ascii_is_refused_not_an_error(portal: TestClient) -> None:
    sign_in(portal, "marketing@northwind.example")
    for given in ("é" * 43, "token-ü"):
        resp = portal.post("/logout", data={"csrf_token": given})
        assert resp.status_code == 403, given
        resp = portal.post("/logout", headers={"X-CSRF-Token": given.encode()})
        assert resp.status_code == 403, given
    assert portal.get("/inbox").status_code == 200  # still signed in


def test_hq_sees_why_a_template_cannot_be_previewed(portal: TestClient, demo: Engine) -> None:
    """The version page shows the sandbox's refusal with part and line, not an error page."""
    with Session(demo) as s:
        draft = s.exec(select(TemplateVersion).where(TemplateVersion.state == "draft")).first()
        assert draft is not None
        content = open_day()
        assert content.email is not None
        content.email.html = with_line_3(content.email.html, REPLACE_BOMB)
        draft.content = content.model_dump(mode="json")
        s.add(draft)
        s.commit()
        vid = draft.id
    sign_in(portal, "marketing@northwind.example")
    page = portal.get(f"/templates/versions/{vid}")
    assert page.status_code == 200, page.text[:500]
    assert "email.html, line 3: replace() would build" in page.text


def test_live_preview_names_the_template_refusal(portal: TestClient, demo: Engine) -> None:
    pc_id = partner_campaign_on_bomb(demo)
    soon = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    token = sign_in(portal, "editor.amsterdam@northwind.example")
    resp = portal.post(
        f"/partner-campaigns/{pc_id}/preview",
        data={"slot__headline": "Come along", "slot__event_date": soon},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert resp.status_code == 200, resp.text[:500]
    # In the Amsterdam editor's language (Dutch).
    assert "Het sjabloon van het hoofdkantoor kan niet worden getoond: email.html, line 3: " in (
        resp.text
    )
    assert "<iframe" not in resp.text
