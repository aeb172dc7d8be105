"""Sign-in, lockout, /me and API tokens, through the HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from models.org import ApiToken, User
from scripts.demo.organisation import DEMO_BRANDS, DEMO_PASSWORD
from services.accounts import MAX_FAILED_LOGINS, authenticate

TOKEN_URL = "/api/v1/auth/token"


def demo_logins() -> list[tuple[str, set[str]]]:
    """Every demo email with the roles it must hold, derived from the demo description."""
    out: dict[str, set[str]] = {}
    for spec in DEMO_BRANDS:
        for local, role in spec.brand_users.items():
            out.setdefault(f"{local}@{spec.domain}", set()).add(role.value)
        for region, partners in spec.regions.items():
            if region in spec.region_managers:
                email = f"{spec.region_managers[region]}@{spec.domain}"
                out.setdefault(email, set()).add("region_manager")
            for p in partners:
                for prefix, role in spec.partner_roles:
                    out.setdefault(f"{prefix}.{p.slug}@{spec.domain}", set()).add(role.value)
    return sorted(out.items())


def sign_in(client: TestClient, email: str, password: str = DEMO_PASSWORD) -> dict[str, object]:
    resp = client.post(TOKEN_URL, data={"username": email, "password": password})
    return {"status": resp.status_code, **resp.json()}


def test_demo_has_the_documented_logins() -> None:
    emails = {e for e, _ in demo_logins()}
    for must in (
        "admin@northwind.example",
        "marketing@northwind.example",
        "brand@northwind.example",
        "brand2@northwind.example",
        "north@northwind.example",
        "south@northwind.example",
        "editor.amsterdam@northwind.example",
        "gm.zurich@northwind.example",
        "ops@northwind.example",
        "admin@contoso.example",
    ):
        assert must in emails
    assert len(emails) == 5 + 2 + 12 + 1 + 3


def test_every_demo_login_gets_a_token_and_its_memberships(
    client: TestClient, demo: Engine
) -> None:
    for email, roles in demo_logins():
        body = sign_in(client, email)
        assert body["status"] == 200, (email, body)
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 3600
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.status_code == 200
        data = me.json()
        assert data["user"]["email"] == email
        assert {m["role"] for m in data["memberships"]} == roles
        assert data["permissions"], email


def test_me_shows_scope_of_a_partner_gm(
    client: TestClient, login: Callable[[str], dict[str, str]], demo: Engine
) -> None:
    data = client.get("/api/v1/me", headers=login("gm.berlin@northwind.example")).json()
    [membership] = data["memberships"]
    assert membership["scope_type"] == "partner"
    [(where, perms)] = data["permissions"].items()
    assert where == f"partner:{membership['partner_id']}"
    assert "partner.profile.edit" in perms
    assert "partner.manage" not in perms


def test_wrong_password_and_unknown_account_look_the_same(client: TestClient, demo: Engine) -> None:
    wrong = sign_in(client, "admin@northwind.example", "not-the-password")
    unknown = sign_in(client, "nobody@northwind.example", "not-the-password")
    assert wrong["status"] == unknown["status"] == 401
    assert wrong["detail"] == unknown["detail"]


def test_missing_form_field_is_named(client: TestClient, demo: Engine) -> None:
    resp = client.post(TOKEN_URL, data={"username": "admin@northwind.example"})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "password"


def test_repeated_failures_lock_the_account(client: TestClient, demo: Engine) -> None:
    email = "gm.munich@northwind.example"
    for _ in range(MAX_FAILED_LOGINS):
        assert sign_in(client, email, "guess")["status"] == 401
    locked = sign_in(client, email)  # the right password, but locked now
    assert locked["status"] == 401
    assert locked["detail"] == sign_in(client, "nobody@x.example", "guess")["detail"]
    with Session(demo) as session:
        user = session.exec(select(User).where(User.email == email)).one()
        assert user.locked_until is not None
        # the lock ends: sign-in works again once the lock time has passed
        later = user.locked_until + timedelta(seconds=1)
        assert authenticate(session, email, DEMO_PASSWORD, now=later) is not None


def test_garbage_and_expired_tokens_are_refused(client: TestClient, demo: Engine) -> None:
    import jwt

    for token in (
        "garbage",
        "brt_abc_def",
        jwt.encode({"sub": "1"}, "a-wrong-key-that-is-long-enough-for-hs256"),
    ):
        resp = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401, token


def test_api_token_lifecycle(
    client: TestClient, login: Callable[[str], dict[str, str]], demo: Engine
) -> None:
    admin = login("admin@northwind.example")
    with Session(demo) as session:
        marketer = session.exec(
            select(User).where(User.email == "marketing@northwind.example")
        ).one()
    created = client.post(
        "/api/v1/api-tokens", json={"user_id": marketer.id, "name": "crm sync"}, headers=admin
    )
    assert created.status_code == 201, created.text
    secret = created.json()["token"]
    token_id = created.json()["id"]
    bearer = {"Authorization": f"Bearer {secret}"}
    me = client.get("/api/v1/me", headers=bearer)
    assert me.status_code == 200
    assert me.json()["user"]["email"] == "marketing@northwind.example"

    shown = client.get(f"/api/v1/api-tokens/{token_id}", headers=admin).json()
    assert "token" not in shown and shown["last_used_at"] is not None
    with Session(demo) as session:
        row = session.get(ApiToken, token_id)
        assert row is not None and secret not in (row.token_hash, row.prefix)

    assert client.delete(f"/api/v1/api-tokens/{token_id}", headers=admin).status_code == 200
    assert client.get("/api/v1/me", headers=bearer).status_code == 401


def user_id(engine: Engine, email: str) -> int:
    with Session(engine) as session:
        found = session.exec(select(User.id).where(User.email == email)).one()
    assert found is not None
    return found


def test_expired_api_token_is_refused(
    client: TestClient, login: Callable[[str], dict[str, str]], demo: Engine
) -> None:
    admin = login("admin@northwind.example")
    soon = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    created = client.post(
        "/api/v1/api-tokens",
        json={
            "user_id": user_id(demo, "marketing@northwind.example"),
            "name": "short",
            "expires_at": soon,
        },
        headers=admin,
    ).json()
    with Session(demo) as session:
        row = session.get(ApiToken, created["id"])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
        session.commit()
    resp = client.get("/api/v1/me", headers={"Authorization": f"Bearer {created['token']}"})
    assert resp.status_code == 401


@pytest.mark.parametrize(
    ("expires_at", "message"),
    [("2020-01-01T00:00:00Z", "must be in the future"), ("2099-01-01T00:00:00", "time zone")],
)
def test_api_token_expiry_is_validated(
    client: TestClient,
    login: Callable[[str], dict[str, str]],
    demo: Engine,
    expires_at: str,
    message: str,
) -> None:
    resp = client.post(
        "/api/v1/api-tokens",
        json={
            "user_id": user_id(demo, "marketing@northwind.example"),
            "name": "x",
            "expires_at": expires_at,
        },
        headers=login("admin@northwind.example"),
    )
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "expires_at"
    assert message in resp.json()["detail"]


def test_deactivated_user_loses_access(
    client: TestClient, login: Callable[[str], dict[str, str]], demo: Engine
) -> None:
    gm = login("gm.hamburg@northwind.example")
    assert client.get("/api/v1/me", headers=gm).status_code == 200
    with Session(demo) as session:
        user = session.exec(select(User).where(User.email == "gm.hamburg@northwind.example")).one()
    resp = client.delete(f"/api/v1/users/{user.id}", headers=login("admin@northwind.example"))
    assert resp.status_code == 200 and resp.json()["is_active"] is False
    assert client.get("/api/v1/me", headers=gm).status_code == 401
    assert sign_in(client, "gm.hamburg@northwind.example")["status"] == 401
