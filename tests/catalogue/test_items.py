"""HQ's side of the catalogue and what partners see of it: drafts stay with HQ, published
items reach the partners of their regions, bad input is a 422 naming the field."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from models.audit import AuditEvent
from tests.catalogue.helpers import (
    EDITOR_AMS,
    EDITOR_HAM,
    MARKETING,
    item_body,
    open_day_version,
    partner_id,
    region_id,
)

Login = Callable[[str], dict[str, str]]
URL = "/api/v1/catalogue"


def _fields(resp: object) -> list[str]:
    body = resp.json()  # type: ignore[attr-defined]
    return [e["field"] for e in body.get("errors") or []]


def test_a_draft_stays_with_hq_until_published_then_partners_see_it(
    client: TestClient, demo: Engine, login: Login
) -> None:
    hq, editor = login(MARKETING), login(EDITOR_HAM)
    made = client.post(URL, json=item_body(demo), headers=hq)
    assert made.status_code == 201, made.text
    item = made.json()
    assert item["state"] == "draft"
    assert (item["budget_hint_minor"], item["budget_hint"], item["budget_currency"]) == (
        25000,
        "250.00",
        "EUR",
    )
    assert client.get(URL, headers=editor).json()["items"] == []
    assert client.get(f"{URL}/{item['id']}", headers=editor).status_code == 404

    published = client.post(f"{URL}/{item['id']}/publish", headers=hq)
    assert published.status_code == 200 and published.json()["state"] == "published"
    seen = client.get(URL, headers=editor).json()["items"]
    assert [(i["id"], i["may_order"]) for i in seen] == [(item["id"], True)]
    # The reviewer reads it but orders nothing.
    reviewer = client.get(f"{URL}/{item['id']}", headers=login("brand@northwind.example"))
    assert reviewer.status_code == 200 and reviewer.json()["may_order"] is False

    renamed = client.patch(f"{URL}/{item['id']}", json={"title": "Open day 2"}, headers=hq)
    assert renamed.json()["title"] == "Open day 2"
    assert (
        client.patch(f"{URL}/{item['id']}", json={"title": "x"}, headers=editor).status_code == 403
    )

    withdrawn = client.post(f"{URL}/{item['id']}/withdraw", headers=hq)
    assert withdrawn.json()["state"] == "withdrawn"
    assert client.get(URL, headers=editor).json()["items"] == []
    # Another brand never sees Northwind's items.
    contoso = login("admin@contoso.example")
    assert client.get(f"{URL}/{item['id']}", headers=contoso).status_code == 404
    assert client.get(URL, headers=contoso).json()["items"] == []
    with Session(demo) as s:
        actions = [
            e.action
            for e in s.exec(select(AuditEvent).where(AuditEvent.entity_type == "catalogue_item"))
        ]
    assert sorted(actions) == sorted(
        ["catalogue.created", "catalogue.published", "catalogue.updated", "catalogue.withdrawn"]
    )


def test_an_item_for_one_region_is_neither_seen_nor_ordered_outside_it(
    client: TestClient, demo: Engine, login: Login
) -> None:
    hq = login(MARKETING)
    south = region_id(demo, "South")
    item = client.post(URL, json=item_body(demo, regions=[south]), headers=hq).json()
    client.post(f"{URL}/{item['id']}/publish", headers=hq)
    hamburg = login(EDITOR_HAM)  # North
    assert client.get(URL, headers=hamburg).json()["items"] == []
    assert client.get(f"{URL}/{item['id']}", headers=hamburg).status_code == 404
    assert client.post(f"{URL}/{item['id']}/orders", json={}, headers=hamburg).status_code == 404
    munich = client.get(URL, headers=login("editor.munich@northwind.example")).json()["items"]
    assert [i["id"] for i in munich] == [item["id"]]
    north = client.get(URL, headers=login("north@northwind.example")).json()["items"]
    assert north == []
    # HQ's admin may order for any partner, but not for one outside the item's regions.
    refused = client.post(
        f"{URL}/{item['id']}/orders",
        json={"partner_id": partner_id(demo, "hamburg")},
        headers=login("admin@northwind.example"),
    )
    assert refused.status_code == 422 and _fields(refused) == ["partner_id"]


def test_bad_input_is_refused_naming_the_field(
    client: TestClient, demo: Engine, login: Login
) -> None:
    hq = login(MARKETING)
    cases = [
        ({"template_version_id": 999999}, "template_version_id"),
        ({"budget_hint": "-5.00"}, "budget_hint"),
        ({"budget_hint": "1.234"}, "budget_hint"),
        ({"budget_currency": "XYZ"}, "budget_currency"),
        ({"budget_currency": None}, "budget_currency"),
        ({"send_within_days": 7}, "send_within_days"),
        ({"personalise_days": 0}, "personalise_days"),
        ({"approval_policy": "none"}, "approval_policy"),
        ({"approval_policy": 999999}, "approval_policy"),
        ({"regions": [999999]}, "regions"),
        ({"title": "x" * 5000}, "title"),
        ({"title": "   "}, "title"),
        ({"description": "x" * 50_000}, "description"),
        ({"defaults": {f"k{n}": n for n in range(500)}}, "defaults"),
        ({"surprise": 1}, "surprise"),
    ]
    for change, field in cases:
        resp = client.post(URL, json=item_body(demo, **change), headers=hq)
        assert resp.status_code == 422, (change, resp.status_code, resp.text)
        assert field in _fields(resp), (change, resp.text)
    # A draft template version is no catalogue item either.
    with Session(demo) as s:
        from models.templates import TemplateVersion

        draft = s.exec(select(TemplateVersion).where(TemplateVersion.state == "draft")).first()
        assert draft is not None
    resp = client.post(URL, json=item_body(demo, template_version_id=draft.id), headers=hq)
    assert resp.status_code == 422 and _fields(resp) == ["template_version_id"]
    # A body past the API's limit is refused before it is read.
    huge = client.post(
        URL,
        content=b'{"title": "' + b"x" * (3 * 1024 * 1024) + b'"}',
        headers={**hq, "Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    # Nothing was created; a PATCH is held to the same rules.
    assert client.get(URL, headers=hq).json()["items"] == []
    item = client.post(URL, json=item_body(demo), headers=hq).json()
    patch = client.patch(f"{URL}/{item['id']}", json={"send_within_days": 3}, headers=hq)
    assert patch.status_code == 422 and _fields(patch) == ["send_within_days"]
    patch = client.patch(f"{URL}/{item['id']}", json={"budget_hint": "-1"}, headers=hq)
    assert patch.status_code == 422 and _fields(patch) == ["budget_hint"]
    assert open_day_version(demo) == item["template_version_id"]
    # Only a published item can be withdrawn; an editor cannot create one.
    assert client.post(f"{URL}/{item['id']}/withdraw", headers=hq).status_code == 409
    assert client.post(URL, json=item_body(demo), headers=login(EDITOR_AMS)).status_code == 403
