"""Campaigns, partner campaigns and the task inbox through the HTTP API (no Temporal: partner
campaign and task rows are inserted directly, as the workflows' projections would write them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from api.routers import ROUTERS
from api.routers import campaigns as campaigns_routes
from api.routers import partner_campaigns as partner_campaigns_routes
from api.routers import tasks as tasks_routes
from domain.states import TaskKind
from models.audit import AuditEvent
from models.campaigns import ApprovalTask, Campaign, PartnerCampaign
from models.org import Brand, Partner, Region
from models.templates import Template, TemplateVersion
from services import campaigns as svc

Login = Callable[[str], dict[str, str]]
ADMIN = "admin@northwind.example"
MARKETING = "marketing@northwind.example"
REVIEWER = "brand@northwind.example"
VIEWER = "ops@northwind.example"
NORTH = "north@northwind.example"
EDITOR_AMS = "editor.amsterdam@northwind.example"
GM_AMS = "gm.amsterdam@northwind.example"
GM_BERLIN = "gm.berlin@northwind.example"
CONTOSO_ADMIN = "admin@contoso.example"
START = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def api(client: TestClient, demo: Engine) -> TestClient:
    """The test client, with this module's routers mounted if the app does not mount them yet."""
    for module in (campaigns_routes, partner_campaigns_routes, tasks_routes):
        if module.router not in ROUTERS:
            client.app.include_router(module.router)  # type: ignore[attr-defined]
    return client


class Ids:
    """Demo ids by name, read once per test."""

    def __init__(self, engine: Engine) -> None:
        with Session(engine) as s:
            self.northwind = s.exec(select(Brand.id).where(Brand.slug == "northwind")).one()
            self.contoso = s.exec(select(Brand.id).where(Brand.slug == "contoso")).one()
            self.partners: dict[str, int] = {
                p.slug: p.id for p in s.exec(select(Partner)).all() if p.id is not None
            }
            self.regions: dict[str, int] = {
                r.name: r.id for r in s.exec(select(Region)).all() if r.id is not None
            }
            versions = s.exec(
                select(TemplateVersion, Template).where(TemplateVersion.template_id == Template.id)
            ).all()
            self.published = _id(
                next(v.id for v, t in versions if t.name == "Open day" and v.state == "published")
            )
            self.draft = _id(next(v.id for v, t in versions if v.state != "published"))


def _id(value: int | None) -> int:
    assert value is not None
    return value


@pytest.fixture
def ids(demo: Engine) -> Ids:
    return Ids(demo)


def body(ids: Ids, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Open day May",
        "template_version_id": ids.published,
        "target": {"all": True},
        "personalise_until": START.isoformat(),
        "send_by": (START + timedelta(days=7)).isoformat(),
    }
    data.update(overrides)
    return data


def create(api: TestClient, login: Login, ids: Ids, **overrides: Any) -> dict[str, Any]:
    r = api.post("/api/v1/campaigns", json=body(ids, **overrides), headers=login(MARKETING))
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def fields(response: Any) -> list[str]:
    return [e["field"] for e in response.json().get("errors", [])]


def add_partner_campaign(
    engine: Engine, campaign_id: int, partner_id: int, state: str = "invited"
) -> int:
    with Session(engine) as s:
        partner = s.get(Partner, partner_id)
        assert partner is not None
        row = PartnerCampaign(
            campaign_id=campaign_id,
            brand_id=partner.brand_id,
            region_id=partner.region_id,
            partner_id=partner_id,
            state=state,
            workflow_id=svc.partner_campaign_workflow_id(campaign_id, partner_id),
        )
        s.add(row)
        s.commit()
        assert row.id is not None
        return row.id


# Tasks of the built-in stages, as the chain projects them (stage name, approver role).
STAGES = {"gm": ("gm", "partner_gm"), "hq": ("hq", "brand_reviewer")}


def escalate(engine: Engine, task_id: int) -> None:
    """What the gm stage's escalation timeout projects: the region manager decides too."""
    set_columns(
        engine,
        ApprovalTask,
        task_id,
        escalation_level=1,
        approvers=[{"role": "partner_gm"}, {"role": "region_manager"}],
    )


def add_task(
    engine: Engine,
    partner_campaign_id: int,
    kind: str,
    *,
    due_at: datetime | None = None,
    escalation_level: int = 0,
    open_: bool = True,
) -> int:
    with Session(engine) as s:
        pc = s.get(PartnerCampaign, partner_campaign_id)
        assert pc is not None
        stage = STAGES.get(kind)
        task = ApprovalTask(
            partner_campaign_id=partner_campaign_id,
            campaign_id=pc.campaign_id,
            brand_id=pc.brand_id,
            region_id=pc.region_id,
            partner_id=pc.partner_id,
            kind=TaskKind.approve if stage else TaskKind(kind),
            open=open_,
            due_at=due_at,
            escalation_level=escalation_level,
            stage=stage[0] if stage else None,
            approvers=[{"role": stage[1]}] if stage else [],
        )
        s.add(task)
        s.commit()
        assert task.id is not None
        return task.id


def set_columns(engine: Engine, model: type[Any], ident: int, **values: Any) -> None:
    with Session(engine) as s:
        row = s.get(model, ident)
        for name, value in values.items():
            setattr(row, name, value)
        s.add(row)
        s.commit()


# Creating -------------------------------------------------------------------------------------


def test_create_with_every_field(api: TestClient, login: Login, ids: Ids, demo: Engine) -> None:
    created = create(
        api,
        login,
        ids,
        target={"regions": [ids.regions["North"]]},
        personalise_until="2030-05-01T11:00:00+02:00",  # stored and answered in UTC
        mode="opt_out",
        approval_policy="none",
        remind_after="P1D",
        escalate_after=3 * 86400,
        defaults={"headline": "Come and train with us"},
    )
    assert created["name"] == "Open day May"
    assert created["brand_id"] == ids.northwind
    assert created["template_version_id"] == ids.published
    assert created["target"] == {"regions": [ids.regions["North"]]}
    assert datetime.fromisoformat(created["personalise_until"]) == START
    assert datetime.fromisoformat(created["send_by"]) == START + timedelta(days=7)
    assert (created["mode"], created["approval_policy"]) == ("opt_out", "none")
    assert (created["remind_after"], created["escalate_after"]) == ("P1D", "P3D")
    assert created["defaults"] == {"headline": "Come and train with us"}
    assert created["state"] == "draft"
    assert created["counts"] == {} and created["summary"] == {}
    assert created["workflow_id"] is None and created["launched_at"] is None
    with Session(demo) as s:
        row = s.get(Campaign, created["id"])
        assert row is not None and (row.remind_after, row.escalate_after) == (86400, 259200)
        actions = s.exec(
            select(AuditEvent.action).where(AuditEvent.entity_id == str(created["id"]))
        ).all()
    assert "campaign.created" in actions


@pytest.mark.parametrize("field", ["personalise_until", "send_by"])
def test_a_time_without_a_zone_is_refused_naming_the_field(
    api: TestClient, login: Login, ids: Ids, field: str
) -> None:
    """One rule for every datetime a caller sends: before, creation took a naive time as UTC
    while scheduling answered 409 with a Python comparison error."""
    sent = body(ids, **{field: "2030-05-01T09:00:00"})
    refused = api.post("/api/v1/campaigns", json=sent, headers=login(MARKETING))
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == [field]
    assert "time zone" in refused.json()["detail"]


def test_defaults(api: TestClient, login: Login, ids: Ids) -> None:
    created = create(api, login, ids)
    assert (created["mode"], created["approval_policy"]) == ("opt_in", "gm")
    assert (created["remind_after"], created["escalate_after"]) == ("P2D", "P4D")
    assert created["defaults"] == {}


def test_idempotency_key_creates_once(
    api: TestClient, login: Login, ids: Ids, demo: Engine
) -> None:
    headers = {**login(MARKETING), "Idempotency-Key": "launch-may-1"}
    first = api.post("/api/v1/campaigns", json=body(ids), headers=headers)
    again = api.post("/api/v1/campaigns", json=body(ids), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    other = api.post(
        "/api/v1/campaigns",
        json=body(ids),
        headers={**login(MARKETING), "Idempotency-Key": "launch-may-2"},
    )
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    with Session(demo) as s:
        assert s.exec(select(func.count()).select_from(Campaign)).one() == 2
    too_long = api.post(
        "/api/v1/campaigns", json=body(ids), headers={**headers, "Idempotency-Key": "k" * 201}
    )
    assert too_long.status_code == 422


def test_an_idempotency_key_reused_with_another_body_is_refused(
    api: TestClient, login: Login, ids: Ids, demo: Engine
) -> None:
    """Before, the second request silently answered with the first campaign."""
    headers = {**login(MARKETING), "Idempotency-Key": "plan-2031"}
    first = api.post("/api/v1/campaigns", json=body(ids), headers=headers)
    changed = api.post("/api/v1/campaigns", json=body(ids, name="Changed"), headers=headers)
    assert first.status_code == 201
    assert changed.status_code == 422 and fields(changed) == ["Idempotency-Key"]
    with Session(demo) as s:
        assert s.exec(select(func.count()).select_from(Campaign)).one() == 1


def test_idempotency_keys_belong_to_the_user_who_sent_them(
    api: TestClient, login: Login, ids: Ids, demo: Engine
) -> None:
    """Before, keys were shared by a brand: a second integration using the same key got the
    first integration's campaign back."""
    key = {"Idempotency-Key": "nightly-import"}
    mine = api.post("/api/v1/campaigns", json=body(ids), headers={**login(MARKETING), **key})
    theirs = api.post(
        "/api/v1/campaigns", json=body(ids), headers={**login("admin@northwind.example"), **key}
    )
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"target": {"everyone": True}}, "target"),
        ({"target": {"all": False}}, "target"),
        ({"target": {"regions": []}}, "target"),
        ({"target": {"all": True, "regions": [1]}}, "target"),
        ({"send_by": START.isoformat()}, "send_by"),
        ({"send_by": (START - timedelta(days=1)).isoformat()}, "send_by"),
        ({"approval_policy": "none"}, "approval_policy"),
        ({"remind_after": "P5D"}, "escalate_after"),
        ({"remind_after": 0}, "remind_after"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_schema_errors_name_the_field(
    api: TestClient, login: Login, ids: Ids, overrides: dict[str, Any], field: str
) -> None:
    r = api.post("/api/v1/campaigns", json=body(ids, **overrides), headers=login(MARKETING))
    assert r.status_code == 422, r.text
    assert fields(r) == [field]


def test_foreign_or_unpublished_references_name_the_field(
    api: TestClient, login: Login, ids: Ids
) -> None:
    def post(**overrides: Any) -> Any:
        return api.post("/api/v1/campaigns", json=body(ids, **overrides), headers=login(MARKETING))

    benelux = ids.regions["Benelux"]
    assert fields(post(target={"regions": [benelux]})) == ["target"]
    assert fields(post(target={"partners": [ids.partners["rotterdam"]]})) == ["target"]
    assert fields(post(target={"partners": [999_999]})) == ["target"]
    r = post(template_version_id=ids.draft)
    assert r.status_code == 422 and fields(r) == ["template_version_id"]
    assert "published template version" in r.json()["detail"]
    assert fields(post(template_version_id=999_999)) == ["template_version_id"]


def test_only_campaign_managers_create(api: TestClient, login: Login, ids: Ids) -> None:
    for who in (REVIEWER, VIEWER, GM_AMS, NORTH):
        r = api.post("/api/v1/campaigns", json=body(ids), headers=login(who))
        assert r.status_code == 403, who


# Reading and editing --------------------------------------------------------------------------


def test_patch_a_draft(api: TestClient, login: Login, ids: Ids, demo: Engine) -> None:
    created = create(api, login, ids)
    url = f"/api/v1/campaigns/{created['id']}"
    r = api.patch(
        url,
        json={
            "name": "Open day June",
            "target": {"partners": [ids.partners["berlin"], ids.partners["amsterdam"]]},
            "escalate_after": "P6D",
        },
        headers=login(MARKETING),
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["name"] == "Open day June"
    assert changed["target"] == {
        "partners": sorted([ids.partners["berlin"], ids.partners["amsterdam"]])
    }
    assert changed["escalate_after"] == "P6D"
    assert changed["send_by"] == created["send_by"]
    # Rules are checked against the merged values, on the field at fault.
    early = (START - timedelta(hours=1)).isoformat()
    r = api.patch(url, json={"send_by": early}, headers=login(MARKETING))
    assert r.status_code == 422 and fields(r) == ["send_by"]
    r = api.patch(url, json={"approval_policy": "none"}, headers=login(MARKETING))
    assert r.status_code == 422 and fields(r) == ["approval_policy"]
    r = api.patch(url, json={"remind_after": "P7D"}, headers=login(MARKETING))
    assert r.status_code == 422 and fields(r) == ["escalate_after"]
    r = api.patch(url, json={"name": None}, headers=login(MARKETING))
    assert r.status_code == 422 and fields(r) == ["name"]
    r = api.patch(url, json={"template_version_id": ids.draft}, headers=login(MARKETING))
    assert r.status_code == 422 and fields(r) == ["template_version_id"]
    r = api.patch(url, json={"target": {"regions": [ids.regions["Alps"]]}}, headers=login(ADMIN))
    assert r.status_code == 422 and fields(r) == ["target"]
    assert api.patch(url, json={"name": "x"}, headers=login(REVIEWER)).status_code == 403
    assert api.get(url, headers=login(MARKETING)).json()["name"] == "Open day June"


def test_patch_refused_once_running(api: TestClient, login: Login, ids: Ids, demo: Engine) -> None:
    created = create(api, login, ids)
    set_columns(demo, Campaign, created["id"], state="running")
    r = api.patch(
        f"/api/v1/campaigns/{created['id']}", json={"name": "Late"}, headers=login(MARKETING)
    )
    assert r.status_code == 409
    assert r.json()["detail"] == (
        f"campaign {created['id']} is running: only drafts can be changed"
    )


def test_read_with_counts(api: TestClient, login: Login, ids: Ids, demo: Engine) -> None:
    created = create(api, login, ids)
    cid = created["id"]
    add_partner_campaign(demo, cid, ids.partners["amsterdam"], "pending_approval")
    add_partner_campaign(demo, cid, ids.partners["berlin"], "pending_approval")
    add_partner_campaign(demo, cid, ids.partners["munich"], "drafting")
    for who in (MARKETING, REVIEWER, VIEWER, NORTH):
        r = api.get(f"/api/v1/campaigns/{cid}", headers=login(who))
        assert r.status_code == 200, who
        assert r.json()["counts"] == {"pending_approval": 2, "drafting": 1}
    listed = api.get("/api/v1/campaigns", headers=login(MARKETING)).json()
    assert listed["items"][0]["counts"] == {"pending_approval": 2, "drafting": 1}
    assert svc_counts(demo, cid) == {"pending_approval": 2, "drafting": 1}
    # Partner roles read their partner campaigns, not the campaign list.
    assert api.get(f"/api/v1/campaigns/{cid}", headers=login(EDITOR_AMS)).status_code == 403


def svc_counts(engine: Engine, campaign_id: int) -> dict[str, int]:
    with Session(engine) as s:
        return svc.counts_by_state(s, campaign_id)


def test_list_filters(api: TestClient, login: Login, ids: Ids, demo: Engine) -> None:
    may = create(api, login, ids, name="Open day May")
    june = create(api, login, ids, name="Summer open day")
    create(api, login, ids, name="Autumn")
    set_columns(demo, Campaign, june["id"], state="running")

    def names(**params: Any) -> list[str]:
        r = api.get("/api/v1/campaigns", params=params, headers=login(REVIEWER))
        assert r.status_code == 200, r.text
        return [c["name"] for c in r.json()["items"]]

    assert names() == ["Autumn", "Summer open day", "Open day May"]  # newest first
    assert names(state="running") == ["Summer open day"]
    assert names(state="draft", q="OPEN") == ["Open day May"]
    assert names(q="open") == ["Summer open day", "Open day May"]
    page = api.get("/api/v1/campaigns", params={"limit": 1, "offset": 2}, headers=login(ADMIN))
    assert page.json()["total"] == 3 and [c["id"] for c in page.json()["items"]] == [may["id"]]
    assert (
        api.get("/api/v1/campaigns", params={"state": "bogus"}, headers=login(ADMIN)).status_code
        == 422
    )
    assert api.get("/api/v1/campaigns", headers=login(CONTOSO_ADMIN)).json()["total"] == 0


# Partner campaigns ----------------------------------------------------------------------------


def test_resolve_target_partners(api: TestClient, login: Login, ids: Ids, demo: Engine) -> None:
    created = create(api, login, ids)
    northwind = sorted(
        i for slug, i in ids.partners.items() if slug not in ("rotterdam", "antwerp", "innsbruck")
    )
    north = sorted(ids.partners[s] for s in ("amsterdam", "berlin", "hamburg"))
    picked = sorted([ids.partners["vienna"], ids.partners["amsterdam"]])
    with Session(demo) as s:
        campaign = s.get(Campaign, created["id"])
        assert campaign is not None

        def resolved(target: dict[str, Any]) -> list[int | None]:
            campaign.target = target
            return [p.id for p in svc.resolve_target_partners(s, campaign)]

        assert resolved({"all": True}) == northwind
        assert resolved({"regions": [ids.regions["North"]]}) == north
        assert resolved({"partners": picked}) == picked
        # Never another brand's partners, whatever the stored target says.
        assert resolved({"partners": [ids.partners["rotterdam"]]}) == []


def test_create_partner_campaigns_is_idempotent(
    api: TestClient, login: Login, ids: Ids, demo: Engine
) -> None:
    created = create(api, login, ids, target={"regions": [ids.regions["North"]]})
    with Session(demo) as s:
        hamburg = s.get(Partner, ids.partners["hamburg"])
        assert hamburg is not None
        hamburg.locale = "fr"  # not among the template's locales (en, de, nl)
        s.add(hamburg)
        campaign = s.get(Campaign, created["id"])
        assert campaign is not None
        partners = svc.resolve_target_partners(s, campaign)
        first = svc.create_partner_campaigns(s, campaign, partners[:2])
        s.commit()
        second = svc.create_partner_campaigns(s, campaign, partners)
        s.commit()
        third = svc.create_partner_campaigns(s, campaign, partners)
        s.commit()
        assert [r.id for r in second[:2]] == [r.id for r in first]
        assert [r.id for r in third] == [r.id for r in second]
        rows = s.exec(
            select(PartnerCampaign)
            .where(PartnerCampaign.campaign_id == created["id"])
            .order_by(col(PartnerCampaign.partner_id))
        ).all()
    assert len(rows) == 3
    by_partner = {r.partner_id: r for r in rows}
    ams, ber, ham = (by_partner[ids.partners[s]] for s in ("amsterdam", "berlin", "hamburg"))
    assert (ams.locale, ber.locale, ham.locale) == ("nl", "de", "en")
    # Only the date HQ gave a relative default starts filled in (the Saturday before send_by).
    assert all(r.state == "invited" and set(r.values) <= {"event_date"} for r in rows)
    assert ams.workflow_id == f"partner-campaign-{created['id']}-{ids.partners['amsterdam']}"
    assert ams.region_id == ids.regions["North"] and ams.brand_id == ids.northwind


def test_partner_campaign_scoping(api: TestClient, login: Login, ids: Ids, demo: Engine) -> None:
    created = create(api, login, ids)
    ams = add_partner_campaign(demo, created["id"], ids.partners["amsterdam"])
    ber = add_partner_campaign(demo, created["id"], ids.partners["berlin"])
    mun = add_partner_campaign(demo, created["id"], ids.partners["munich"])

    def listed(who: str, **params: Any) -> list[int]:
        r = api.get("/api/v1/partner-campaigns", params=params, headers=login(who))
        assert r.status_code == 200, r.text
        return [pc["id"] for pc in r.json()["items"]]

    one = api.get(f"/api/v1/partner-campaigns/{ams}", headers=login(EDITOR_AMS))
    assert one.status_code == 200
    assert one.json()["campaign_name"] == "Open day May"
    assert one.json()["partner_name"] == "Northwind Fitness Amsterdam"
    assert one.json()["locale"] == "en" and one.json()["state"] == "invited"
    assert api.get(f"/api/v1/partner-campaigns/{ams}", headers=login(GM_BERLIN)).status_code == 404
    assert api.get(f"/api/v1/partner-campaigns/{ber}", headers=login(GM_BERLIN)).status_code == 200
    assert listed(EDITOR_AMS) == [ams]
    assert listed(GM_BERLIN) == [ber]
    assert listed(NORTH) == [ams, ber]
    assert listed(REVIEWER) == [ams, ber, mun]
    assert listed(REVIEWER, partner_id=ids.partners["munich"]) == [mun]
    assert listed(REVIEWER, campaign_id=created["id"] + 1) == []
    set_columns(demo, PartnerCampaign, ber, state="pending_approval")
    assert listed(ADMIN, state="pending_approval") == [ber]
    missing = api.get("/api/v1/partner-campaigns/999999", headers=login(GM_BERLIN))
    assert missing.status_code == 404


def test_other_brand_sees_nothing(api: TestClient, login: Login, ids: Ids, demo: Engine) -> None:
    created = create(api, login, ids)
    ams = add_partner_campaign(demo, created["id"], ids.partners["amsterdam"])
    contoso = login(CONTOSO_ADMIN)
    assert api.get(f"/api/v1/campaigns/{created['id']}", headers=contoso).status_code == 404
    r = api.patch(f"/api/v1/campaigns/{created['id']}", json={"name": "x"}, headers=contoso)
    assert r.status_code == 404
    assert api.get(f"/api/v1/partner-campaigns/{ams}", headers=contoso).status_code == 404
    assert api.get("/api/v1/partner-campaigns", headers=contoso).json()["total"] == 0
    add_task(demo, ams, "gm")
    assert api.get("/api/v1/tasks", headers=contoso).json()["total"] == 0
    # Northwind's template versions are not Contoso's to use.
    r = api.post(
        "/api/v1/campaigns",
        json=body(ids),
        headers={**contoso, "Idempotency-Key": "shared"},
    )
    assert r.status_code == 422 and fields(r) == ["template_version_id"]


# Tasks ----------------------------------------------------------------------------------------


def task_ids(api: TestClient, login: Login, who: str, **params: Any) -> list[int]:
    r = api.get("/api/v1/tasks", params=params, headers=login(who))
    assert r.status_code == 200, r.text
    return [t["id"] for t in r.json()["items"]]


def test_gm_task_goes_to_the_gm_then_the_region_on_escalation(
    api: TestClient, login: Login, ids: Ids, demo: Engine
) -> None:
    created = create(api, login, ids)
    ams = add_partner_campaign(demo, created["id"], ids.partners["amsterdam"], "pending_approval")
    task = add_task(demo, ams, "gm", due_at=START)
    assert task_ids(api, login, GM_AMS) == [task]
    assert task_ids(api, login, EDITOR_AMS) == []
    assert task_ids(api, login, GM_BERLIN) == []
    assert task_ids(api, login, NORTH) == []
    assert task_ids(api, login, ADMIN) == []  # admins administer, they do not approve
    escalate(demo, task)
    assert task_ids(api, login, NORTH) == [task]
    assert task_ids(api, login, GM_AMS) == [task]
    assert task_ids(api, login, "south@northwind.example") == []
    [item] = api.get("/api/v1/tasks", headers=login(NORTH)).json()["items"]
    assert item["kind"] == "approve" and item["state"] == "pending_approval"
    assert item["stage"]["name"] == "gm"
    assert item["stage"]["deciders"] == ["the partner's GM", "the region manager"]
    assert item["partner_campaign_id"] == ams and item["campaign_id"] == created["id"]
    assert item["campaign_name"] == "Open day May"
    assert item["partner_name"] == "Northwind Fitness Amsterdam"
    assert item["escalation_level"] == 1 and item["overdue"] is False
    set_columns(demo, ApprovalTask, task, open=False)
    assert task_ids(api, login, GM_AMS) == []


def test_hq_and_personalise_tasks(api: TestClient, login: Login, ids: Ids, demo: Engine) -> None:
    created = create(api, login, ids)
    ams = add_partner_campaign(demo, created["id"], ids.partners["amsterdam"], "pending_approval")
    ber = add_partner_campaign(demo, created["id"], ids.partners["berlin"], "drafting")
    hq = add_task(demo, ams, "hq")
    personalise = add_task(demo, ber, "personalise")
    assert task_ids(api, login, REVIEWER) == [hq]
    for who in (GM_AMS, NORTH, MARKETING, VIEWER):
        assert hq not in task_ids(api, login, who), who
    assert task_ids(api, login, GM_BERLIN) == [personalise]
    assert task_ids(api, login, "editor.berlin@northwind.example") == [personalise]
    assert task_ids(api, login, EDITOR_AMS) == []
    assert task_ids(api, login, ADMIN) == [personalise]  # holds partner_campaign.edit brand-wide
    assert task_ids(api, login, REVIEWER, state="drafting") == []
    assert task_ids(api, login, REVIEWER, state="pending_approval") == [hq]
    assert task_ids(api, login, REVIEWER, campaign_id=created["id"] + 1) == []
    assert task_ids(api, login, REVIEWER, partner_id=ids.partners["amsterdam"]) == [hq]


def test_overdue_filter_and_order(api: TestClient, login: Login, ids: Ids, demo: Engine) -> None:
    created = create(api, login, ids)
    now = datetime.now(UTC)
    rows = [
        add_partner_campaign(demo, created["id"], ids.partners[s], "pending_approval")
        for s in ("amsterdam", "berlin")
    ]
    late = add_task(demo, rows[0], "gm", due_at=now - timedelta(hours=1))
    on_time = add_task(demo, rows[1], "gm", due_at=now + timedelta(days=1))
    escalate(demo, late)
    escalate(demo, on_time)
    assert task_ids(api, login, NORTH) == [on_time, late]  # newest first
    assert task_ids(api, login, NORTH, overdue=True) == [late]
    assert task_ids(api, login, NORTH, overdue=False) == [on_time]
    r = api.get("/api/v1/tasks", params={"limit": 1, "offset": 1}, headers=login(NORTH)).json()
    assert r["total"] == 2 and [t["id"] for t in r["items"]] == [late]
    assert r["items"][0]["overdue"] is True
    assert api.get("/api/v1/tasks").status_code == 401
