"""A partner orders a catalogue item: one campaign for that partner alone, launched through
the campaign workflow, so the partner's editor can personalise it and its GM approve it.
Retried and parallel orders with one Idempotency-Key make one campaign; partners never see
each other's orders."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from core.errors import Problem
from models.campaigns import Campaign, PartnerCampaign
from models.catalogue import CatalogueOrder
from models.catalogue_schemas import CatalogueOrderCreate
from models.org import User
from services.accounts import principal_for
from services.catalogue import orders
from services.org import Actor
from tests.catalogue.helpers import EDITOR_AMS, EDITOR_HAM, GM_HAM, MARKETING, item_body

Login = Callable[[str], dict[str, str]]
URL = "/api/v1/catalogue"


async def _published(api: httpx.AsyncClient, demo: Engine, login: Login, **changes: Any) -> int:
    hq = login(MARKETING)
    made = await api.post(URL, json=item_body(demo, **changes), headers=hq)
    assert made.status_code == 201, made.text
    item_id = int(made.json()["id"])
    assert (await api.post(f"{URL}/{item_id}/publish", headers=hq)).status_code == 200
    return item_id


async def _state(api: httpx.AsyncClient, headers: dict[str, str], pc_id: int, want: str) -> None:
    """Polls the partner campaign until the workflow has put it in `want`."""
    for _ in range(200):
        row = await api.get(f"/api/v1/partner-campaigns/{pc_id}", headers=headers)
        if row.status_code == 200 and row.json()["state"] == want:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"partner campaign {pc_id} never reached {want}: {row.text}")


async def test_a_partner_orders_personalises_and_its_gm_gets_it(
    app_with_worker: httpx.AsyncClient, demo: Engine, login: Login
) -> None:
    api, editor = app_with_worker, login(EDITOR_HAM)
    item_id = await _published(api, demo, login)
    key = {"Idempotency-Key": "order-1"}
    made = await api.post(f"{URL}/{item_id}/orders", json={}, headers={**editor, **key})
    assert made.status_code == 201, made.text
    order = made.json()
    assert order["partner_name"].endswith("Hamburg") and order["item_title"] == "Open day"
    assert order["form_url"] == f"/partner-campaigns/{order['partner_campaign_id']}"
    # The suggested window, counted from the order: 7 days to personalise, sent within 14.
    until = datetime.fromisoformat(order["personalise_until"])
    send_by = datetime.fromisoformat(order["send_by"])
    assert timedelta(days=6) < until - datetime.now(UTC) <= timedelta(days=7)
    assert send_by - until == timedelta(days=7)
    with Session(demo) as s:
        campaign = s.get(Campaign, order["campaign_id"])
        assert campaign is not None and campaign.state == "running"
        assert campaign.target == {"partners": [order["partner_id"]]}
        assert campaign.approval_policy == "gm" and campaign.workflow_id
        rows = s.exec(
            select(PartnerCampaign).where(PartnerCampaign.campaign_id == campaign.id)
        ).all()
        assert [r.partner_id for r in rows] == [order["partner_id"]]

    pc_id = order["partner_campaign_id"]
    await _state(api, editor, pc_id, "drafting")
    # The same key again: the same order, nothing new; another body with it: 422.
    again = await api.post(f"{URL}/{item_id}/orders", json={}, headers={**editor, **key})
    assert again.status_code == 200 and again.json()["id"] == order["id"]
    later = {"personalise_until": (datetime.now(UTC) + timedelta(days=3)).isoformat()}
    reused = await api.post(f"{URL}/{item_id}/orders", json=later, headers={**editor, **key})
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "Idempotency-Key"
    # A second order of the item while the first is open is refused (409).
    second = await api.post(f"{URL}/{item_id}/orders", json={}, headers=editor)
    assert second.status_code == 409, second.text

    # The editor personalises and submits; the Hamburg GM finds it in the inbox.
    event_date = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    values = {"headline": "Open day in Hamburg", "event_date": event_date}
    saved = await api.put(
        f"/api/v1/partner-campaigns/{pc_id}/content", json={"values": values}, headers=editor
    )
    assert saved.status_code == 200, saved.text
    submitted = await api.post(f"/api/v1/partner-campaigns/{pc_id}/submit", json={}, headers=editor)
    assert submitted.status_code == 200, submitted.text
    await _state(api, editor, pc_id, "pending_approval")
    inbox = (await api.get("/api/v1/tasks", headers=login(GM_HAM))).json()["items"]
    assert [t["partner_campaign_id"] for t in inbox] == [pc_id]
    assert (await api.get("/api/v1/tasks", headers=login("gm.amsterdam@northwind.example"))).json()[
        "items"
    ] == []

    # Orders are the partner's: Amsterdam sees none of Hamburg's, HQ sees them all.
    mine = (await api.get(f"{URL}/orders", headers=editor)).json()["items"]
    assert [(o["id"], o["state"]) for o in mine] == [(order["id"], "pending_approval")]
    ams = login(EDITOR_AMS)
    assert (await api.get(f"{URL}/orders", headers=ams)).json()["items"] == []
    assert (await api.get(f"{URL}/orders/{order['id']}", headers=ams)).status_code == 404
    assert (await api.get(f"/api/v1/partner-campaigns/{pc_id}", headers=ams)).status_code == 404
    hq = (await api.get(f"{URL}/orders", headers=login(MARKETING))).json()["items"]
    assert [o["id"] for o in hq] == [order["id"]]


async def test_parallel_orders_with_one_key_make_one_campaign(
    app_with_worker: httpx.AsyncClient, demo: Engine, login: Login
) -> None:
    api, editor = app_with_worker, login(EDITOR_HAM)
    item_id = await _published(api, demo, login)
    headers = {**editor, "Idempotency-Key": "parallel-1"}
    answers = await asyncio.gather(
        *(api.post(f"{URL}/{item_id}/orders", json={}, headers=headers) for _ in range(6))
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 200, 200, 200, 200, 201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    with Session(demo) as s:
        assert len(s.exec(select(CatalogueOrder)).all()) == 1
        made = s.exec(select(Campaign).where(Campaign.name == "Open day")).all()
        assert len(made) == 1
        assert (
            len(
                s.exec(
                    select(PartnerCampaign).where(col(PartnerCampaign.campaign_id) == made[0].id)
                ).all()
            )
            == 1
        )
    await _state(api, editor, answers[0].json()["partner_campaign_id"], "drafting")


def test_racing_threads_with_one_key_write_one_order(
    client: TestClient, demo: Engine, login: Login
) -> None:
    """Four threads past the key lookup at once (a barrier): the database's unique key
    lets one order through, the others answer it; another body with the key is a 422."""
    hq = login(MARKETING)
    item = client.post(URL, json=item_body(demo), headers=hq).json()
    client.post(f"{URL}/{item['id']}/publish", headers=hq)
    with Session(demo) as s:
        user = s.exec(select(User).where(User.email == EDITOR_HAM)).one()
        principal = principal_for(s, user)
    barrier = threading.Barrier(4)

    def place(i: int, body: CatalogueOrderCreate) -> int:
        barrier.wait()
        with Session(demo) as s:
            placed = orders.place(s, Actor(principal, f"race-{i}"), item["id"], body, "race-1")
            s.commit()
            assert placed.order.id is not None
            return placed.order.id

    with ThreadPoolExecutor(4) as pool:
        ids = set(pool.map(lambda i: place(i, CatalogueOrderCreate()), range(4)))
    assert len(ids) == 1
    barrier = threading.Barrier(1)
    other = CatalogueOrderCreate(send_by=datetime.now(UTC) + timedelta(days=30))
    try:
        place(9, other)
    except Problem as err:
        assert err.errors and err.errors[0]["field"] == "Idempotency-Key"
    else:
        raise AssertionError("the key reused with another body was accepted")
    with Session(demo) as s:
        assert [o.id for o in s.exec(select(CatalogueOrder)).all()] == list(ids)
        assert len(s.exec(select(Campaign)).all()) == 1


def test_an_order_is_refused_naming_the_field(
    client: TestClient, demo: Engine, login: Login
) -> None:
    """Refusals come before anything is made (no workflow service needed here)."""
    hq, editor = login(MARKETING), login(EDITOR_HAM)
    item = client.post(URL, json=item_body(demo), headers=hq).json()
    url = f"{URL}/{item['id']}/orders"
    assert client.post(url, json={}, headers=editor).status_code == 404  # still a draft
    client.post(f"{URL}/{item['id']}/publish", headers=hq)
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    soon = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    cases = [
        ({"personalise_until": past}, "personalise_until"),
        ({"personalise_until": soon, "send_by": soon}, "send_by"),
        ({"personalise_until": "2030-01-01T00:00:00"}, "personalise_until"),  # no zone
        ({"send_by": (datetime.now(UTC) + timedelta(days=800)).isoformat()}, "send_by"),
        ({"partner_id": -1}, "partner_id"),
        ({"partner_id": "x" * 100_000}, "partner_id"),
        ({"other": 1}, "other"),
    ]
    for body, field in cases:
        resp = client.post(url, json=body, headers=editor)
        assert resp.status_code == 422, (body, resp.text)
        assert [e["field"] for e in resp.json()["errors"]] == [field], resp.text
    # Another partner's id is not found; HQ's admin must say which partner it orders for.
    ams = client.post(url, json={"partner_id": 1_000_000}, headers=editor)
    assert ams.status_code == 404
    admin = client.post(url, json={}, headers=login("admin@northwind.example"))
    assert admin.status_code == 422 and admin.json()["errors"][0]["field"] == "partner_id"
    # HQ's marketer reads the catalogue but orders nothing; a withdrawn item is not orderable.
    assert client.post(url, json={}, headers=hq).status_code == 403
    client.post(f"{URL}/{item['id']}/withdraw", headers=hq)
    assert client.post(url, json={}, headers=editor).status_code == 404
    with Session(demo) as s:
        assert s.exec(select(CatalogueOrder)).all() == []
        assert s.exec(select(Campaign)).all() == []


def test_an_item_is_ordered_again_once_the_earlier_order_is_done(
    client: TestClient, demo: Engine, login: Login
) -> None:
    """While the partner's campaign of the item is open a new order is a 409 naming it;
    rejected (or approved, sent, expired ...), the partner may order the item again."""
    hq = login(MARKETING)
    item = client.post(URL, json=item_body(demo), headers=hq).json()
    client.post(f"{URL}/{item['id']}/publish", headers=hq)
    with Session(demo) as s:
        user = s.exec(select(User).where(User.email == EDITOR_HAM)).one()
        principal = principal_for(s, user)

    def place(key: str) -> int:
        with Session(demo) as s:
            placed = orders.place(s, Actor(principal, key), item["id"], CatalogueOrderCreate(), key)
            s.commit()
            return placed.campaign.id or 0

    first = place("first")
    for state in ("drafting", "changes_requested", "pending_approval"):
        with Session(demo) as s:
            row = s.exec(select(PartnerCampaign).where(PartnerCampaign.campaign_id == first)).one()
            row.state = state  # type: ignore[assignment]
            s.add(row)
            s.commit()
        try:
            place(f"again-{state}")
        except Problem as err:
            assert err.status == 409 and "not approved yet" in err.detail
        else:
            raise AssertionError(f"a second order while the first is {state}")
    with Session(demo) as s:
        row = s.exec(select(PartnerCampaign).where(PartnerCampaign.campaign_id == first)).one()
        row.state = "rejected"  # type: ignore[assignment]
        s.add(row)
        s.commit()
    second = place("after-rejection")
    assert second != first
