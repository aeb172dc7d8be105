"""The webhook API: brand admins only, one brand never sees another's, secrets shown once."""

from __future__ import annotations

import threading
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.settings import Settings
from models.audit import AuditEvent
from models.org import User
from models.webhooks import WebhookEndpoint
from services.accounts import principal_for
from services.org import Actor
from services.webhooks import endpoints as svc

URL = "/api/v1/webhooks"
PUBLIC = "https://93.184.215.14/hook"
Login = Callable[[str], dict[str, str]]


def _create(client: TestClient, headers: dict[str, str], **body: object) -> dict[str, object]:
    answer = client.post(
        URL, json={"url": PUBLIC, "event_types": ["delivery.finished"], **body}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, object] = answer.json()
    return created


def test_an_admin_registers_changes_rotates_and_deletes_an_endpoint(
    client: TestClient, login: Login, demo: Engine
) -> None:
    admin = login("admin@northwind.example")
    created = _create(client, admin, description="CRM")
    hook = f"{URL}/{created['id']}"
    secret = str(created["secret"])
    assert secret.startswith("whsec_") and created["enabled"] is True

    read = client.get(hook, headers=admin).json()
    assert "secret" not in read and read["event_types"] == ["delivery.finished"]
    listed = client.get(URL, headers=admin).json()["items"]
    assert [h["id"] for h in listed] == [created["id"]] and "secret" not in listed[0]

    changed = client.patch(
        hook,
        json={"event_types": ["campaign.launched", "delivery.paused"], "enabled": False},
        headers=admin,
    )
    assert changed.status_code == 200
    assert changed.json()["enabled"] is False and changed.json()["disabled_reason"]

    rotated = client.post(f"{hook}/rotate-secret", headers=admin).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != secret
    assert client.get(hook, headers=admin).json()["previous_secret_until"] is not None

    ping = client.post(f"{hook}/test", headers=admin)
    assert ping.status_code == 202 and ping.json()["event_type"] == "webhook.test"
    events = client.get(f"{hook}/events", headers=admin).json()["items"]
    assert [e["state"] for e in events] == ["pending"]
    again = client.post(f"{hook}/events/{events[0]['id']}/redeliver", headers=admin)
    assert again.status_code == 202
    assert client.get(f"{hook}/deliveries", headers=admin).json()["items"] == []

    assert client.delete(hook, headers=admin).status_code == 204
    assert client.get(hook, headers=admin).status_code == 404
    with Session(demo) as session:
        trail = session.exec(
            select(AuditEvent).where(AuditEvent.entity_type == "webhook_endpoint")
        ).all()
    actions = {e.action for e in trail}
    assert {"webhook_endpoint.created", "webhook_endpoint.deleted"} <= actions
    assert "webhook_endpoint.secret_rotated" in actions
    assert not any("whsec_" in str(e.after) + str(e.before) for e in trail)


def test_unsafe_or_malformed_registrations_are_refused_naming_the_field(
    client: TestClient, login: Login
) -> None:
    admin = login("admin@northwind.example")
    cases = [
        ({"url": "https://127.0.0.1/hook", "event_types": ["delivery.finished"]}, "url"),
        ({"url": "http://93.184.215.14/hook", "event_types": ["delivery.finished"]}, "url"),
        ({"url": "https://169.254.169.254/", "event_types": ["delivery.finished"]}, "url"),
        ({"url": "https://a:b@93.184.215.14/", "event_types": ["delivery.finished"]}, "url"),
        ({"url": PUBLIC, "event_types": ["campaign.exploded"]}, "event_types"),
        ({"url": PUBLIC, "event_types": []}, "event_types"),
        ({"url": PUBLIC, "event_types": ["delivery.finished"], "secret": "mine"}, "secret"),
        (
            {"url": PUBLIC, "event_types": ["delivery.finished"], "description": "x" * 501},
            "description",
        ),
        (
            {"url": "https://" + "a" * 3000 + ".example/", "event_types": ["delivery.finished"]},
            "url",
        ),
    ]
    for body, field in cases:
        answer = client.post(URL, json=body, headers=admin)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert field in str(answer.json()["errors"]), (body, answer.json())
    created = _create(client, admin)
    refused = client.patch(
        f"{URL}/{created['id']}", json={"url": "https://10.0.0.1/"}, headers=admin
    )
    assert refused.status_code == 422


def test_another_brand_never_sees_or_touches_an_endpoint_and_partners_are_refused(
    client: TestClient, login: Login
) -> None:
    created = _create(client, login("admin@northwind.example"))
    hook = f"{URL}/{created['id']}"
    contoso = login("admin@contoso.example")
    assert client.get(URL, headers=contoso).json()["items"] == []
    calls = [
        ("GET", hook, None),
        ("PATCH", hook, {"enabled": False}),
        ("DELETE", hook, None),
        ("POST", f"{hook}/rotate-secret", None),
        ("POST", f"{hook}/test", None),
        ("GET", f"{hook}/deliveries", None),
        ("GET", f"{hook}/events", None),
    ]
    for method, path, body in calls:
        assert client.request(method, path, json=body, headers=contoso).status_code == 404
    for email in (
        "gm.amsterdam@northwind.example",
        "editor.amsterdam@northwind.example",
        "marketing@northwind.example",
        "north@northwind.example",
    ):
        for method, path, body in [("GET", URL, None), *calls]:
            answer = client.request(method, path, json=body, headers=login(email))
            assert answer.status_code == 403, (email, method, path)
    assert client.get(hook, headers=login("admin@northwind.example")).json()["enabled"] is True


def test_parallel_rotations_apply_one_after_the_other(
    client: TestClient, login: Login, demo: Engine, settings: Settings
) -> None:
    endpoint_id = int(str(_create(client, login("admin@northwind.example"))["id"]))
    with Session(demo) as session:
        admin = session.exec(select(User).where(User.email == "admin@northwind.example")).one()
        principal = principal_for(session, admin)
    barrier = threading.Barrier(2)
    secrets: list[str] = []

    def rotate(n: int) -> None:
        with Session(demo, expire_on_commit=False) as session:
            barrier.wait()
            actor = Actor(principal, f"par-{n}")
            endpoint = svc.rotate_secret(session, settings, actor, endpoint_id)
            session.commit()
            secrets.append(endpoint.secret)

    threads = [threading.Thread(target=rotate, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Session(demo) as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
    assert endpoint is not None and len(secrets) == 2
    # The second rotation kept the first one's secret as the previous: none was lost.
    assert {endpoint.secret, endpoint.previous_secret} == set(secrets)


def test_an_api_token_of_a_brand_admin_registers_endpoints_and_one_of_an_editor_cannot(
    client: TestClient, login: Login, demo: Engine
) -> None:
    admin = login("admin@northwind.example")
    with Session(demo) as session:
        users = {u.email: u.id for u in session.exec(select(User)).all()}

    def token_of(email: str) -> dict[str, str]:
        made = client.post(
            "/api/v1/api-tokens", json={"user_id": users[email], "name": "ci"}, headers=admin
        )
        assert made.status_code == 201, made.text
        return {"Authorization": f"Bearer {made.json()['token']}"}

    created = _create(client, token_of("admin@northwind.example"))
    assert created["id"]
    editor = token_of("editor.amsterdam@northwind.example")
    assert client.get(URL, headers=editor).status_code == 403
