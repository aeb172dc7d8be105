"""What ends a sign-in: logging out and changing the password end every access token and portal
session of the user (the session generation); deactivation and a removed membership take effect
at the next request; API tokens are revoked one by one."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from api.portal import session as cookies
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.org import Membership, User
from scripts.demo.organisation import DEMO_PASSWORD
from services.accounts import MAX_FAILED_LOGINS
from storage.local import LocalBlobStore

TOKEN_URL = "/api/v1/auth/token"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NEW_PASSWORD = "correct horse battery staple"


def sign_in(client: TestClient, email: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
    resp = client.post(TOKEN_URL, data={"username": email, "password": password})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def me_status(client: TestClient, headers: dict[str, str]) -> int:
    return client.get("/api/v1/me", headers=headers).status_code


@pytest.fixture
def browser(settings: Settings, demo: Engine, blob_store: LocalBlobStore) -> Iterator[TestClient]:
    app = create_app(
        settings, engine=demo, temporal=LazyTemporalClient(settings), blob_store=blob_store
    )
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def portal_sign_in(browser: TestClient, email: str) -> str:
    """Signs the browser in through the form; the CSRF token of its new session."""
    page = browser.get("/login")
    token = CSRF.search(page.text)
    assert token is not None
    resp = browser.post(
        "/login", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token.group(1)}
    )
    assert resp.status_code == 303, resp.text
    inbox = CSRF.search(browser.get("/inbox").text)
    assert inbox is not None
    return inbox.group(1)


def test_logout_ends_the_callers_access_tokens(client: TestClient, demo: Engine) -> None:
    email = "gm.berlin@northwind.example"
    first, second = sign_in(client, email), sign_in(client, email)
    assert me_status(client, first) == 200
    assert client.post("/api/v1/auth/logout", headers=first).status_code == 204
    assert me_status(client, first) == 401
    assert me_status(client, second) == 401  # stateless tokens: all of them end
    assert client.post("/api/v1/auth/logout", headers=first).status_code == 401
    fresh = sign_in(client, email)
    assert me_status(client, fresh) == 200


def test_logout_of_one_user_leaves_others_signed_in(client: TestClient, demo: Engine) -> None:
    gm = sign_in(client, "gm.berlin@northwind.example")
    editor = sign_in(client, "editor.berlin@northwind.example")
    assert client.post("/api/v1/auth/logout", headers=gm).status_code == 204
    assert me_status(client, editor) == 200


def test_a_password_change_ends_old_tokens_and_answers_a_new_one(
    client: TestClient, demo: Engine
) -> None:
    email = "editor.munich@northwind.example"
    old = sign_in(client, email)
    resp = client.post(
        "/api/v1/me/password",
        json={"current_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD},
        headers=old,
    )
    assert resp.status_code == 200, resp.text
    assert me_status(client, old) == 401
    assert me_status(client, {"Authorization": f"Bearer {resp.json()['access_token']}"}) == 200
    refused = client.post(TOKEN_URL, data={"username": email, "password": DEMO_PASSWORD})
    assert refused.status_code == 401
    assert me_status(client, sign_in(client, email, NEW_PASSWORD)) == 200


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"current_password": DEMO_PASSWORD, "new_password": "short"}, "new_password", "12"),
        (
            {"current_password": DEMO_PASSWORD, "new_password": "EDITOR.MUNICH@northwind.example"},
            "new_password",
            "email",
        ),
        (
            {"current_password": DEMO_PASSWORD, "new_password": "aaaaaaaaaaaaaaaa"},
            "new_password",
            "different characters",
        ),
        (
            {"current_password": DEMO_PASSWORD, "new_password": DEMO_PASSWORD},
            "new_password",
            "well-known",
        ),
        ({"current_password": "not-it", "new_password": NEW_PASSWORD}, "current_password", ""),
        ({"new_password": NEW_PASSWORD}, "current_password", ""),
    ],
)
def test_a_refused_password_change_names_the_field_and_changes_nothing(
    client: TestClient,
    login: Callable[[str], dict[str, str]],
    demo: Engine,
    body: dict[str, str],
    field: str,
    words: str,
) -> None:
    headers = login("editor.munich@northwind.example")
    resp = client.post("/api/v1/me/password", json=body, headers=headers)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["errors"][0]["field"] == field
    assert words in resp.json()["detail"]
    assert me_status(client, headers) == 200  # nothing ended
    assert me_status(client, sign_in(client, "editor.munich@northwind.example")) == 200


def test_guessing_the_current_password_with_a_token_meets_the_lockout(
    client: TestClient, login: Callable[[str], dict[str, str]], demo: Engine
) -> None:
    """A stolen token must not be a way to guess the password without limit."""
    headers = login("editor.vienna@northwind.example")
    for i in range(MAX_FAILED_LOGINS):
        body = {"current_password": f"guess-{i}", "new_password": NEW_PASSWORD}
        assert client.post("/api/v1/me/password", json=body, headers=headers).status_code == 422
    right = {"current_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD}
    assert client.post("/api/v1/me/password", json=right, headers=headers).status_code == 422
    refused = client.post(
        TOKEN_URL, data={"username": "editor.vienna@northwind.example", "password": DEMO_PASSWORD}
    )
    assert refused.status_code == 401  # locked


def test_a_password_set_by_an_admin_ends_the_users_sign_ins(
    client: TestClient, login: Callable[[str], dict[str, str]], demo: Engine
) -> None:
    editor = sign_in(client, "editor.hamburg@northwind.example")
    with Session(demo) as session:
        user = session.exec(
            select(User).where(User.email == "editor.hamburg@northwind.example")
        ).one()
    resp = client.patch(
        f"/api/v1/users/{user.id}",
        json={"password": NEW_PASSWORD},
        headers=login("admin@northwind.example"),
    )
    assert resp.status_code == 200, resp.text
    assert me_status(client, editor) == 401


def test_an_admin_cannot_set_a_weak_password(
    client: TestClient, login: Callable[[str], dict[str, str]], demo: Engine
) -> None:
    resp = client.post(
        "/api/v1/users",
        json={"email": "new.person@northwind.example", "password": "new.person@northwind.example"},
        headers=login("admin@northwind.example"),
    )
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "password"


def test_portal_logout_ends_every_session_and_token_of_the_user(
    browser: TestClient, client: TestClient, settings: Settings, demo: Engine
) -> None:
    email = "gm.amsterdam@northwind.example"
    csrf = portal_sign_in(browser, email)
    before = browser.cookies.get(cookies.COOKIE)
    assert before is not None
    bearer = sign_in(client, email)
    assert browser.post("/logout", data={"csrf_token": csrf}).status_code == 303
    browser.cookies.clear()
    browser.cookies.set(cookies.COOKIE, before)  # a copy of the cookie kept from before
    assert browser.get("/inbox").headers["location"].startswith("/login")
    assert me_status(client, bearer) == 401
    browser.cookies.clear()
    portal_sign_in(browser, email)
    assert browser.get("/inbox").status_code == 200


def test_a_password_change_ends_portal_sessions(
    browser: TestClient, client: TestClient, demo: Engine
) -> None:
    email = "gm.munich@northwind.example"
    portal_sign_in(browser, email)
    assert browser.get("/inbox").status_code == 200
    resp = client.post(
        "/api/v1/me/password",
        json={"current_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD},
        headers=sign_in(client, email),
    )
    assert resp.status_code == 200
    assert browser.get("/inbox").status_code == 303


def test_deactivation_and_a_removed_membership_act_at_the_next_request(
    browser: TestClient, client: TestClient, login: Callable[[str], dict[str, str]], demo: Engine
) -> None:
    """No generation needed: every request reloads the user and the memberships."""
    admin = login("admin@northwind.example")
    with Session(demo) as session:
        gm = session.exec(select(User).where(User.email == "gm.zurich@northwind.example")).one()
        editor = session.exec(
            select(User).where(User.email == "editor.zurich@northwind.example")
        ).one()
        [membership] = session.exec(select(Membership).where(Membership.user_id == editor.id))
    portal_sign_in(browser, "gm.zurich@northwind.example")
    assert client.delete(f"/api/v1/users/{gm.id}", headers=admin).status_code == 200
    assert browser.get("/inbox").status_code == 303

    token = sign_in(client, "editor.zurich@northwind.example")
    assert client.get("/api/v1/partner-campaigns", headers=token).status_code == 200
    assert client.delete(f"/api/v1/memberships/{membership.id}", headers=admin).status_code == 204
    assert client.get("/api/v1/partner-campaigns", headers=token).status_code == 403


def test_api_tokens_outlive_logout_and_password_change(
    client: TestClient, login: Callable[[str], dict[str, str]], demo: Engine
) -> None:
    """Integration credentials: revoked through /api/v1/api-tokens, not by the person's sign-in."""
    with Session(demo) as session:
        marketer = session.exec(
            select(User).where(User.email == "marketing@northwind.example")
        ).one()
    created = client.post(
        "/api/v1/api-tokens",
        json={"user_id": marketer.id, "name": "crm sync"},
        headers=login("admin@northwind.example"),
    )
    api_token = {"Authorization": f"Bearer {created.json()['token']}"}
    person = sign_in(client, "marketing@northwind.example")
    assert client.post("/api/v1/auth/logout", headers=person).status_code == 204
    changed = client.post(
        "/api/v1/me/password",
        json={"current_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD},
        headers=sign_in(client, "marketing@northwind.example"),
    )
    assert changed.status_code == 200
    assert me_status(client, api_token) == 200


def test_tokens_from_before_the_generation_count_as_generation_zero(
    client: TestClient, settings: Settings, demo: Engine
) -> None:
    """Access tokens issued before the claim existed keep working until the first sign-out."""
    with Session(demo) as session:
        user = session.exec(select(User).where(User.email == "ops@northwind.example")).one()
    now = datetime.now(UTC)
    claims = {"sub": str(user.id), "iat": now, "exp": now + timedelta(minutes=5)}
    secret = settings.secret_key.get_secret_value()
    old = {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}
    assert me_status(client, old) == 200
    assert client.post("/api/v1/auth/logout", headers=old).status_code == 204
    assert me_status(client, old) == 401


def test_a_session_cookie_carries_the_generation(settings: Settings) -> None:
    made = cookies.new_session(settings, 7, generation=3)
    assert cookies.decode(settings, cookies.encode(settings, made)) == made
    anonymous = cookies.new_session(settings, None)
    assert cookies.decode(settings, cookies.encode(settings, anonymous)) == anonymous


def test_an_access_token_in_another_spelling_is_refused(client: TestClient, demo: Engine) -> None:
    token = sign_in(client, "ops@northwind.example")["Authorization"]
    assert me_status(client, {"Authorization": token}) == 200
    for variant in (token + "=", token + "==", token.replace("-", "+").replace("_", "/")):
        if variant != token:
            assert me_status(client, {"Authorization": variant}) == 401, variant
