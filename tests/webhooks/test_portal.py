"""The portal's webhook page: the brand's admins see their endpoints and latest attempts."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.portal import session as portal_cookies
from core.settings import Settings
from models.org import User
from models.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookEventState
from services.webhooks.signing import new_secret


def _cookie(settings: Settings, demo: Engine, email: str) -> dict[str, str]:
    with Session(demo) as s:
        user = s.exec(select(User).where(User.email == email)).one()
    found = portal_cookies.new_session(settings, user.id, generation=user.session_generation)
    return {portal_cookies.COOKIE: portal_cookies.encode(settings, found)}


def test_admins_see_their_endpoints_and_attempts_and_nobody_else_does(
    client: TestClient, demo: Engine, settings: Settings
) -> None:
    with Session(demo) as s:
        admin = s.exec(select(User).where(User.email == "admin@northwind.example")).one()
        endpoint = WebhookEndpoint(
            brand_id=admin.brand_id,
            url="https://93.184.215.14/northwind-hook",
            event_types=["delivery.finished"],
            enabled=False,
            disabled_reason="every attempt failed since yesterday",
            secret=new_secret(),
        )
        s.add(endpoint)
        s.flush()
        event = WebhookEvent(
            endpoint_id=endpoint.id or 0,
            brand_id=admin.brand_id,
            message_id="msg_portal",
            source_key="portal",
            event_type="delivery.finished",
            subject="partner_campaign:1",
            state=WebhookEventState.pending,
        )
        s.add(event)
        s.flush()
        s.add(
            WebhookDelivery(
                endpoint_id=endpoint.id or 0,
                event_id=event.id or 0,
                brand_id=admin.brand_id,
                attempt=1,
                status_code=503,
                error="HTTP 503",
            )
        )
        s.commit()
        secret = endpoint.secret

    client.cookies.update(_cookie(settings, demo, "admin@northwind.example"))
    assert 'href="/settings/webhooks"' in client.get("/settings").text
    page = client.get("/settings/webhooks")
    assert page.status_code == 200
    assert "northwind-hook" in page.text and "every attempt failed since yesterday" in page.text
    assert "HTTP 503" in page.text and "delivery.finished" in page.text
    assert secret not in page.text

    client.cookies.clear()
    client.cookies.update(_cookie(settings, demo, "admin@contoso.example"))
    other = client.get("/settings/webhooks")
    assert other.status_code == 200 and "northwind-hook" not in other.text
    for email in ("marketing@northwind.example", "gm.amsterdam@northwind.example"):
        client.cookies.clear()
        client.cookies.update(_cookie(settings, demo, email))
        assert client.get("/settings/webhooks", follow_redirects=False).status_code == 403
        assert 'href="/settings/webhooks"' not in client.get("/settings").text
