"""Shared by the funds tests: the demo's people, partners by code, and a fund in one call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from models.org import Partner

Login = Callable[[str], dict[str, str]]
ADMIN = "admin@northwind.example"
MARKETING = "marketing@northwind.example"
NORTH = "north@northwind.example"
SOUTH = "south@northwind.example"
GM_AMS = "gm.amsterdam@northwind.example"
GM_BER = "gm.berlin@northwind.example"
EDITOR_AMS = "editor.amsterdam@northwind.example"
CONTOSO = "admin@contoso.example"
FUNDS = "/api/v1/funds"
RATES = "/api/v1/cost-rates"


def partner_ids(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        return {p.slug: p.id or 0 for p in s.exec(select(Partner)).all()}


def terms(**more: Any) -> dict[str, Any]:
    return {
        "period": "2026-Q4",
        "currency": "EUR",
        "amount": "1000.00",
        "coop_share_percent": "50",
        "eligible_channels": ["email", "sms", "print"],
        **more,
    }


def allocate(
    client: TestClient, login: Login, who: str = ADMIN, key: str | None = None, **more: Any
) -> Any:
    headers = dict(login(who))
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(FUNDS, json=terms(**more), headers=headers)


def fields(response: Any) -> list[str]:
    return [e["field"] for e in response.json().get("errors", [])]
