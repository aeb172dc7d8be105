"""The generated client against the real app (demo data, Temporal unreachable): typed calls,
one Idempotency-Key per logical call kept across its retries, Retry-After honoured and
bounded, problem+json as ApiError with field errors, and the tenant boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from brandrelay_client import ApiError, BrandrelayClient, models
from brandrelay_client.base import parse_retry_after
from core.settings import Settings
from models.campaigns import Campaign
from tests.clients.helpers import (
    CONTOSO_ADMIN,
    MARKETING,
    Intercept,
    access_token,
    published_version,
    region_id,
)

START = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)


def campaign_body(demo: Engine, name: str, **overrides: object) -> models.CampaignCreate:
    body: models.CampaignCreate = {
        "name": name,
        "template_version_id": published_version(demo),
        "target": {"regions": [region_id(demo, "North")]},
        "personalise_until": START.isoformat(),
        "send_by": (START + timedelta(days=7)).isoformat(),
    }
    body.update(overrides)  # type: ignore[typeddict-item]
    return body


def campaigns_named(demo: Engine, name: str) -> list[int]:
    with Session(demo) as s:
        return [c.id or 0 for c in s.exec(select(Campaign).where(Campaign.name == name)).all()]


def test_a_retried_create_sends_one_key_and_creates_once(
    app_client: TestClient, demo: Engine, settings: Settings
) -> None:
    """The first attempt meets a 503 with Retry-After: 1; the client waits 1 s and repeats
    the call with the same Idempotency-Key, and the API creates one campaign."""
    first = [True]

    def busy_once(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST" and first[0]:
            first[0] = False
            return httpx.Response(
                503,
                headers={"Retry-After": "1", "Content-Type": "application/problem+json"},
                json={"type": "about:blank", "title": "Busy", "status": 503, "detail": "later"},
            )
        return None

    transport = Intercept(app_client._transport, busy_once)
    http = httpx.Client(base_url="http://testserver", transport=transport)
    slept: list[float] = []
    api = BrandrelayClient(
        token=access_token(demo, settings, MARKETING), http=http, sleep=slept.append
    )

    created = api.create_campaign(campaign_body(demo, "Client May"))
    assert slept == [1.0]
    keys = [r.headers["Idempotency-Key"] for r in transport.requests]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert created["state"] == "draft" and created["name"] == "Client May"

    again = api.create_campaign(campaign_body(demo, "Client May"), idempotency_key=keys[0])
    assert again["id"] == created["id"]
    assert campaigns_named(demo, "Client May") == [created["id"]]
    api.create_campaign(campaign_body(demo, "Client May"))  # a new logical call: a new key
    assert len(campaigns_named(demo, "Client May")) == 2
    assert len({r.headers["Idempotency-Key"] for r in transport.requests}) == 2

    page = api.list_campaigns(q="Client May", sort="id")
    assert [c["name"] for c in page["items"]] == ["Client May", "Client May"]
    assert api.read_me()["user"]["email"] == MARKETING


def test_errors_are_typed_problems(
    app_client: TestClient, demo: Engine, settings: Settings
) -> None:
    slept: list[float] = []
    api = BrandrelayClient(
        token=access_token(demo, settings, MARKETING),
        http=app_client,
        sleep=slept.append,
        max_retries=2,
    )
    with pytest.raises(ApiError) as invalid:
        api.create_campaign(
            campaign_body(demo, "Backwards", send_by=(START - timedelta(days=1)).isoformat())
        )
    assert invalid.value.status == 422
    assert any("send_by" in e["field"] for e in invalid.value.errors), invalid.value.errors
    assert slept == []  # a refusal is not retried

    draft = api.create_campaign(campaign_body(demo, "Needs Temporal"))
    with pytest.raises(ApiError) as down:  # the workflow service is unreachable
        api.launch_campaign(draft["id"])
    assert down.value.status == 503 and down.value.retry_after == 5.0
    assert slept == [5.0, 5.0]  # Retry-After honoured, max_retries times, then the error

    contoso = BrandrelayClient(token=access_token(demo, settings, CONTOSO_ADMIN), http=app_client)
    with pytest.raises(ApiError) as foreign:
        contoso.read_campaign(draft["id"])
    assert foreign.value.status == 404  # another brand's campaign does not exist for it
    with pytest.raises(ApiError) as anonymous:
        BrandrelayClient(http=app_client).list_campaigns()
    assert anonymous.value.status == 401 and anonymous.value.title


def mock_client(handler: object, **options: object) -> tuple[BrandrelayClient, list[float]]:
    slept: list[float] = []
    http = httpx.Client(base_url="http://api", transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
    return BrandrelayClient(http=http, sleep=slept.append, **options), slept  # type: ignore[arg-type]


def test_retry_after_is_bounded_and_connection_errors_retry_only_when_harmless() -> None:
    calls: list[str] = []

    def slow_down(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(429, headers={"Retry-After": "120"}, text="slow down")

    api, slept = mock_client(slow_down, max_retry_wait=30)
    with pytest.raises(ApiError) as refused:
        api.list_campaigns()
    assert (refused.value.status, refused.value.retry_after, slept) == (429, 120.0, [])
    assert refused.value.detail == "slow down" and len(calls) == 1

    def unreachable(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        raise httpx.ConnectError("refused", request=request)

    calls.clear()
    api, slept = mock_client(unreachable, max_retries=2)
    with pytest.raises(httpx.ConnectError):
        api.list_campaigns()
    assert calls == ["GET"] * 3 and len(slept) == 2
    calls.clear()
    with pytest.raises(httpx.ConnectError):
        api.launch_campaign(1)  # a POST without a key may have been done: not repeated
    assert calls == ["POST"]

    assert parse_retry_after("Wed, 01 May 2030 09:00:30 GMT", now=START) == 30.0
    assert parse_retry_after("soon") is None
