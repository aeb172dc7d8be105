"""Approval policies and delegations through the HTTP API: create, read, version, archive,
diagram and explain (a dry run on the demo's contacts), the built-ins by name, tenant
boundaries, every refusal naming its field, parallel versions, and delegations with their
audit events. No Temporal: a launch is simulated by pinning the version on the campaign row,
as the launch does before it starts the workflow."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from content.spec import TemplateContent
from models.audit import AuditEvent
from models.campaigns import Campaign, PartnerCampaign
from models.org import Partner, User
from models.templates import Template, TemplateVersion
from scripts.demo.approvals import seed_demo_approvals
from scripts.demo.contacts import seed_demo_contacts
from services.approvals import policies as approval_policies
from tests.delivery.test_delivery import make_segment

Login = Callable[[str], dict[str, str]]
URL = "/api/v1/approval-policies"
ADMIN = "admin@northwind.example"
MARKETING = "marketing@northwind.example"
REVIEWER = "brand@northwind.example"
REVIEWER2 = "brand2@northwind.example"
GM_AMS = "gm.amsterdam@northwind.example"
NORTH = "north@northwind.example"
CONTOSO = "admin@contoso.example"
GM = {"role": "partner_gm"}
REGION = {"role": "region_manager"}
REVIEWERS = {"role": "brand_reviewer"}
LARGE = {"fact": "audience_size", "op": "gt", "value": 50}


def stage(name: str, *approvers: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"name": name, "approvers": list(approvers), **more}


def two_stages() -> dict[str, Any]:
    return {"stages": [stage("gm", GM), stage("region", REGION, when=LARGE)]}


def users(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        return {u.email: u.id or 0 for u in s.exec(select(User)).all()}


def fields(response: Any) -> list[str]:
    return [e["field"] for e in response.json().get("errors", [])]


def actions(engine: Engine, prefix: str) -> list[str]:
    with Session(engine) as s:
        rows = s.exec(
            select(AuditEvent.action)
            .where(col(AuditEvent.action).startswith(prefix))
            .order_by(col(AuditEvent.id))
        ).all()
    return list(rows)


def create(client: TestClient, login: Login, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    r = client.post(URL, json={"name": name, "spec": spec}, headers=login(ADMIN))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def open_day(engine: Engine) -> TemplateVersion:
    with Session(engine) as s:
        version = s.exec(
            select(TemplateVersion)
            .join(Template, col(Template.id) == col(TemplateVersion.template_id))
            .where(Template.name == "Open day", TemplateVersion.state == "published")
        ).one()
        s.expunge(version)
        return version


def campaign_row(engine: Engine, policy: int | str, *, launched: bool) -> int:
    """A campaign with the policy; `launched` pins the current version as the launch does."""
    version = open_day(engine)
    now = datetime.now(UTC)
    with Session(engine) as s:
        marketer = s.exec(select(User).where(User.email == MARKETING)).one()
        choice = approval_policies.choose(s, marketer.brand_id, policy)
        campaign = Campaign(
            brand_id=marketer.brand_id,
            name=f"Campaign with {policy}",
            template_version_id=version.id or 0,
            target={"all": True},
            personalise_until=now + timedelta(days=3),
            send_by=now + timedelta(days=9),
            created_by=marketer.id or 0,
            approval_policy=choice.name,
            approval_policy_id=choice.policy_id,
        )
        if launched:
            content = TemplateContent.model_validate(version.content)
            campaign.approval_policy_version_id = approval_policies.pin(
                s, campaign, content
            ).version_id
            campaign.state = "running"
        s.add(campaign)
        s.commit()
        return campaign.id or 0


def partner_campaign(engine: Engine, campaign_id: int, slug: str) -> int:
    with Session(engine) as s:
        partner = s.exec(select(Partner).where(Partner.slug == slug)).one()
        row = PartnerCampaign(
            campaign_id=campaign_id,
            brand_id=partner.brand_id,
            region_id=partner.region_id,
            partner_id=partner.id or 0,
            state="drafting",
            workflow_id=f"partner-campaign-{campaign_id}-{partner.id}",
        )
        s.add(row)
        s.commit()
        return row.id or 0


# Create, read, version, archive -----------------------------------------------------------------


def test_create_read_and_version_while_a_launched_campaign_keeps_its_version(
    client: TestClient, login: Login, demo: Engine
) -> None:
    created = create(client, login, "Large sends", two_stages())
    assert (created["builtin"], created["current_version"]) == (False, 1)
    assert [v["number"] for v in created["versions"]] == [1]
    key = created["key"]
    assert key == str(created["id"])
    first_version = created["current_version_id"]

    read = client.get(f"{URL}/{key}", headers=login(MARKETING))
    assert read.status_code == 200
    assert read.json()["spec"]["stages"][1]["when"] == {**LARGE, "slot": None}

    launched = campaign_row(demo, created["id"], launched=True)
    newer = {"stages": [stage("gm", GM)], "distinct_deciders": True}
    r = client.post(f"{URL}/{key}/versions", json={"spec": newer}, headers=login(ADMIN))
    assert r.status_code == 201, r.text
    assert r.json()["current_version"] == 2
    assert [v["number"] for v in r.json()["versions"]] == [1, 2]
    assert [s["name"] for s in r.json()["spec"]["stages"]] == ["gm"]

    # The campaign launched before keeps version 1; one launched now pins version 2.
    with Session(demo) as s:
        running = s.get(Campaign, launched)
        assert running is not None and running.approval_policy_version_id == first_version
        content = TemplateContent.model_validate(open_day(demo).content)
        assert approval_policies.pin(s, running, content).version == 1
    later = campaign_row(demo, created["id"], launched=True)
    with Session(demo) as s:
        fresh = s.get(Campaign, later)
        assert (
            fresh is not None and fresh.approval_policy_version_id == r.json()["current_version_id"]
        )
    assert actions(demo, "approval_policy.") == [
        "approval_policy.created",
        "approval_policy.versioned",
    ]


def test_archived_policies_cannot_be_chosen_but_pinned_campaigns_keep_them(
    client: TestClient, login: Login, demo: Engine
) -> None:
    created = create(client, login, "Old chain", two_stages())
    key = created["key"]
    launched = campaign_row(demo, created["id"], launched=True)
    r = client.post(f"{URL}/{key}/archive", headers=login(ADMIN))
    assert r.status_code == 200 and r.json()["archived_at"]
    assert client.post(f"{URL}/{key}/archive", headers=login(ADMIN)).status_code == 200
    assert actions(demo, "approval_policy.archived") == ["approval_policy.archived"]

    def keys(**params: Any) -> list[str]:
        listed = client.get(URL, params=params, headers=login(ADMIN)).json()
        return [p["key"] for p in listed["items"]]

    assert key not in keys(archived=False) and key in keys(archived=True) and key in keys()
    assert "gm" not in keys(archived=True)

    campaign = {
        "name": "New",
        "template_version_id": open_day(demo).id,
        "target": {"all": True},
        "personalise_until": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "send_by": (datetime.now(UTC) + timedelta(days=9)).isoformat(),
        "approval_policy": created["id"],
    }
    refused = client.post("/api/v1/campaigns", json=campaign, headers=login(MARKETING))
    assert refused.status_code == 422 and fields(refused) == ["approval_policy"]
    again = client.post(f"{URL}/{key}/versions", json={"spec": {}}, headers=login(ADMIN))
    assert again.status_code == 409
    with Session(demo) as s:
        running = s.get(Campaign, launched)
        assert running is not None
        content = TemplateContent.model_validate(open_day(demo).content)
        assert approval_policies.pin(s, running, content).version == 1


def test_the_list_has_the_builtins_then_the_brands_policies_paged(
    client: TestClient, login: Login, demo: Engine
) -> None:
    create(client, login, "B chain", two_stages())
    create(client, login, "A chain", two_stages())
    listed = client.get(URL, headers=login(MARKETING)).json()
    assert [(p["key"], p["builtin"]) for p in listed["items"][:3]] == [
        ("gm", True),
        ("gm_then_hq", True),
        ("none", True),
    ]
    assert [p["name"] for p in listed["items"][3:]] == ["A chain", "B chain"]
    assert listed["total"] == 5
    window = client.get(URL, params={"limit": 2, "offset": 2}, headers=login(ADMIN)).json()
    assert [p["name"] for p in window["items"]] == ["none", "A chain"]
    assert window["total"] == 5
    # Contoso sees the built-ins and nothing of Northwind's.
    contoso = client.get(URL, headers=login(CONTOSO)).json()
    assert [p["key"] for p in contoso["items"]] == ["gm", "gm_then_hq", "none"]


def test_builtins_are_read_and_drawn_by_name_but_not_changed(
    client: TestClient, login: Login, demo: Engine
) -> None:
    read = client.get(f"{URL}/gm_then_hq", headers=login(MARKETING))
    assert read.status_code == 200
    assert read.json()["builtin"] is True and read.json()["versions"] == []
    assert [s["name"] for s in read.json()["spec"]["stages"]] == ["gm", "hq"]
    drawn = client.get(f"{URL}/gm/diagram", headers=login(CONTOSO))
    assert drawn.status_code == 200 and drawn.json()["mermaid"].startswith("flowchart TD")
    for path in ("versions", "archive"):
        body = {"spec": {}} if path == "versions" else None
        r = client.post(f"{URL}/gm/{path}", json=body, headers=login(ADMIN))
        assert r.status_code == 409, r.text
        assert client.post(f"{URL}/gm/{path}", json=body, headers=login(MARKETING)).status_code == (
            403
        )
    for missing in ("nope", "0", "999999", str(2**64), "-1", "9" * 40):
        assert client.get(f"{URL}/{missing}", headers=login(ADMIN)).status_code == 404, missing


def test_the_diagram_names_named_users(client: TestClient, login: Login, demo: Engine) -> None:
    ids = users(demo)
    with Session(demo) as s:
        reviewer = s.get(User, ids[REVIEWER2])
        assert reviewer is not None
        name = reviewer.full_name or reviewer.email
    spec = {
        "stages": [
            stage(
                "legal",
                {"user_id": ids[REVIEWER2]},
                timeouts=[{"after": 86400, "action": "escalate", "to": [REVIEWERS]}],
            )
        ]
    }
    key = create(client, login, "Legal", spec)["key"]
    drawn = client.get(f"{URL}/{key}/diagram", headers=login(MARKETING))
    assert drawn.status_code == 200
    body = drawn.json()
    assert body["version"] == 1
    assert body["stages"][0]["approvers"] == [
        {"role": None, "user_id": ids[REVIEWER2], "name": name}
    ]
    assert body["stages"][0]["timeouts"][0]["to"][0]["name"] == "a brand reviewer"
    assert name in body["mermaid"]
    text = client.get(f"{URL}/{key}/diagram?format=mermaid", headers=login(MARKETING))
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    assert text.text == body["mermaid"]


# Explain ----------------------------------------------------------------------------------------


@pytest.fixture
def standard(demo: Engine) -> int:
    """The demo's contacts and its Standard policy (GM; region above 50; brand review for
    offers)."""
    with Session(demo) as s:
        seed_demo_contacts(s)
        seed_demo_approvals(s)
        s.commit()
        return approval_policies.list_policies(s, _admin(s))[0].policy.id or 0


def _admin(s: Session) -> Any:
    from services.accounts import principal_for

    return principal_for(s, s.exec(select(User).where(User.email == ADMIN)).one())


def test_explain_amsterdam_to_everyone_against_a_small_segment(
    client: TestClient, login: Login, demo: Engine, standard: int
) -> None:
    ids = users(demo)
    pc = partner_campaign(demo, campaign_row(demo, standard, launched=False), "amsterdam")
    url = f"{URL}/{standard}/explain"
    everyone = client.get(url, params={"partner_campaign_id": pc}, headers=login(ADMIN))
    assert everyone.status_code == 200, everyone.text
    body = everyone.json()
    # 53 by email, 5 by SMS: the demo's Open day has an SMS variant, and the Amsterdam
    # contact who prefers SMS but replied STOP gets nothing (no email either).
    assert body["facts"]["audience_size"] == 58 and body["approval_needed"] is True
    by_name = {s["name"]: s for s in body["stages"]}
    assert [s["name"] for s in body["stages"]] == ["gm", "region", "brand_review"]
    assert all(s["applies"] for s in body["stages"])
    assert by_name["region"]["because"] == "audience size above 50"
    assert [p["id"] for p in by_name["region"]["people"]] == [ids[NORTH]]
    assert by_name["region"]["people"][0]["name"]
    assert [p["id"] for p in by_name["gm"]["people"]] == [ids[GM_AMS]]
    assert {p["id"] for p in by_name["brand_review"]["people"]} == {ids[REVIEWER], ids[REVIEWER2]}
    assert all(s["staffing_gap"] is None for s in body["stages"]) and body["problems"] == []

    small = make_segment(demo, "amsterdam", "yoga")
    few = client.get(
        url, params={"partner_campaign_id": pc, "segment_id": small}, headers=login(MARKETING)
    ).json()
    assert few["segment_id"] == small and few["facts"]["audience_size"] < 50
    region = next(s for s in few["stages"] if s["name"] == "region")
    assert region["applies"] is False
    assert region["because"] == "skipped: not (audience size above 50)"
    assert region["condition"] == "audience size above 50"

    # Another partner's segment is refused, naming the field.
    berlin = make_segment(demo, "berlin", "yoga")
    r = client.get(
        url, params={"partner_campaign_id": pc, "segment_id": berlin}, headers=login(ADMIN)
    )
    assert r.status_code == 422 and fields(r) == ["segment_id"]


def test_explain_names_a_staffing_gap_and_builtins_explain_too(
    client: TestClient, login: Login, demo: Engine, standard: int
) -> None:
    spec = {"stages": [stage("gms", GM, rule="quorum", quorum=2)]}
    key = create(client, login, "Two GMs", spec)["key"]
    pc = partner_campaign(demo, campaign_row(demo, "gm", launched=False), "amsterdam")
    r = client.get(f"{URL}/{key}/explain", params={"partner_campaign_id": pc}, headers=login(ADMIN))
    assert r.status_code == 200
    gap = r.json()["stages"][0]["staffing_gap"]
    assert gap and "needs 2 more approvals" in gap
    none = client.get(
        f"{URL}/none/explain", params={"partner_campaign_id": pc}, headers=login(ADMIN)
    )
    assert none.status_code == 200
    assert (none.json()["stages"], none.json()["approval_needed"]) == ([], False)
    gm = client.get(f"{URL}/gm/explain", params={"partner_campaign_id": pc}, headers=login(ADMIN))
    assert gm.json()["stages"][0]["applies"] is True


# Tenant boundaries and roles -------------------------------------------------------------------


def test_other_brands_and_partner_users_never_reach_a_policy(
    client: TestClient, login: Login, demo: Engine, standard: int
) -> None:
    pc = partner_campaign(demo, campaign_row(demo, standard, launched=False), "amsterdam")
    contoso = login(CONTOSO)
    for method, path in (
        ("GET", f"{URL}/{standard}"),
        ("GET", f"{URL}/{standard}/diagram"),
        ("GET", f"{URL}/{standard}/explain?partner_campaign_id={pc}"),
        ("GET", f"{URL}/gm/explain?partner_campaign_id={pc}"),  # a Northwind partner campaign
        ("POST", f"{URL}/{standard}/versions"),
        ("POST", f"{URL}/{standard}/archive"),
    ):
        body = {"spec": {}} if path.endswith("versions") else None
        r = client.request(method, path, json=body, headers=contoso)
        assert r.status_code == 404, (path, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    # A missing partner campaign looks the same as another brand's.
    missing = client.get(f"{URL}/gm/explain?partner_campaign_id=999999", headers=contoso)
    assert missing.json()["detail"] == "partner campaign 999999 not found"
    # A partner's GM reads no policies and designs none; a marketer reads but does not design.
    gm = login(GM_AMS)
    assert client.get(URL, headers=gm).status_code == 403
    assert client.get(f"{URL}/{standard}", headers=gm).status_code == 403
    assert client.get(f"{URL}/gm/explain?partner_campaign_id={pc}", headers=gm).status_code == 403
    refused = client.post(URL, json={"name": "Mine", "spec": {}}, headers=gm)
    assert refused.status_code == 403
    assert client.post(
        URL, json={"name": "X", "spec": {}}, headers=login(MARKETING)
    ).status_code == (403)
    assert client.post(f"{URL}/{standard}/archive", headers=login(MARKETING)).status_code == 403


# Refusals ---------------------------------------------------------------------------------------

BAD_SPECS: dict[str, tuple[dict[str, Any], list[str] | None]] = {
    "no approvers": ({"stages": [stage("gm")]}, ["spec.stages.0.approvers"]),
    "unknown slot": (
        {
            "stages": [
                stage("gm", GM, when={"fact": "slot", "slot": "price", "op": "gt", "value": 1})
            ]
        },
        ["spec.stages.0.when.slot"],
    ),
    "quorum above named approvers": (
        {"stages": [stage("two", {"user_id": 1}, rule="quorum", quorum=2)]},
        ["spec.stages.0.quorum"],
    ),
    "quorum above the brand's reviewers": (
        {"stages": [stage("hq", REVIEWERS, rule="quorum", quorum=3)]},
        ["spec.stages.0.quorum"],
    ),
    "quorum without a number": (
        {"stages": [stage("hq", REVIEWERS, rule="quorum")]},
        ["spec.stages.0.quorum"],
    ),
    "escalation to itself": (
        {"stages": [stage("gm", GM, timeouts=[{"after": 3600, "action": "escalate", "to": [GM]}])]},
        ["spec.stages.0.timeouts.0.to"],
    ),
    "escalation back to those already added": (
        {
            "stages": [
                stage(
                    "gm",
                    GM,
                    timeouts=[
                        {"after": 3600, "action": "escalate", "to": [REGION]},
                        {"after": 7200, "action": "escalate", "to": [REGION]},
                    ],
                )
            ]
        },
        ["spec.stages.0.timeouts.1.to"],
    ),
    "duplicate stage names": (
        {"stages": [stage("gm", GM), stage("gm", REGION)]},
        ["spec.stages.1.name"],
    ),
    "bad stage name": ({"stages": [stage("GM!", GM)]}, ["spec.stages.0.name"]),
    "unknown user": (
        {"stages": [stage("one", {"user_id": 99999})]},
        ["spec.stages.0.approvers.0.user_id"],
    ),
    "unknown user escalated to": (
        {
            "stages": [
                stage(
                    "gm",
                    GM,
                    timeouts=[{"after": 3600, "action": "escalate", "to": [{"user_id": 99999}]}],
                )
            ]
        },
        ["spec.stages.0.timeouts.0.to.0.user_id"],
    ),
    "user id beyond 64 bits": (
        {"stages": [stage("one", {"user_id": 2**70})]},
        ["spec.stages.0.approvers.0.user_id"],
    ),
    "role and user at once": (
        {"stages": [stage("one", {"role": "partner_gm", "user_id": 1})]},
        ["spec.stages.0.approvers.0"],
    ),
    "unknown role": (
        {"stages": [stage("one", {"role": "ceo"})]},
        ["spec.stages.0.approvers.0.role"],
    ),
    "approvers not a list": (
        {"stages": [{"name": "gm", "approvers": "everyone"}]},
        ["spec.stages.0.approvers"],
    ),
    "unknown field": ({"stages": [], "shortcut": True}, ["spec.shortcut"]),
    "deeply nested": (
        {"stages": [stage("gm", GM, when={"fact": "slot", "op": "eq", "value": [[[[[1]]]]]})]},
        None,
    ),
    "stages not a list": ({"stages": {"0": {"name": "gm"}}}, ["spec.stages"]),
    "too many stages": ({"stages": [stage(f"s{i}", GM) for i in range(21)]}, ["spec.stages"]),
    "timeout too soon": (
        {"stages": [stage("gm", GM, timeouts=[{"after": 5, "action": "remind"}])]},
        ["spec.stages.0.timeouts.0.after"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_a_bad_spec_is_refused_naming_the_field(
    client: TestClient, login: Login, demo: Engine, case: str
) -> None:
    spec, expected = BAD_SPECS[case]
    ids = users(demo)
    spec = _with_ids(spec, ids)
    r = client.post(URL, json={"name": f"Bad {case}", "spec": spec}, headers=login(ADMIN))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    got = fields(r)
    if expected is None:
        assert got and all(f.startswith("spec.stages.0.when") for f in got), got
    else:
        assert set(expected) <= set(got), got
    # The same spec is refused as a new version too.
    key = create(client, login, f"Good {case}", {"stages": [stage("gm", GM)]})["key"]
    again = client.post(f"{URL}/{key}/versions", json={"spec": spec}, headers=login(ADMIN))
    assert again.status_code == 422 and set(fields(again)) == set(got)


def _with_ids(spec: dict[str, Any], ids: dict[str, int]) -> dict[str, Any]:
    """The quorum case names a real user of the brand (user 1 may be anyone's)."""
    if spec == BAD_SPECS["quorum above named approvers"][0]:
        return {"stages": [stage("two", {"user_id": ids[REVIEWER]}, rule="quorum", quorum=2)]}
    return spec


def test_bad_names_ids_and_bodies(client: TestClient, login: Login, demo: Engine) -> None:
    admin = login(ADMIN)
    ids = users(demo)
    contoso_user = ids[CONTOSO]
    r = client.post(
        URL,
        json={"name": "X", "spec": {"stages": [stage("a", {"user_id": contoso_user})]}},
        headers=admin,
    )
    assert r.status_code == 422 and fields(r) == ["spec.stages.0.approvers.0.user_id"]
    for name, field in (("", "name"), ("   ", "name"), ("gm", "name"), ("x" * 101, "name")):
        r = client.post(URL, json={"name": name, "spec": {}}, headers=admin)
        assert r.status_code == 422 and fields(r) == [field], (name, r.text)
    create(client, login, "Taken", {})
    r = client.post(URL, json={"name": "Taken", "spec": {}}, headers=admin)
    assert r.status_code == 409 and fields(r) == ["name"]
    assert client.post(URL, json={"name": "No spec"}, headers=admin).status_code == 422
    assert client.post(URL, content=b"{not json", headers=admin).status_code in (400, 422)
    nested = b'{"name": "N", "spec": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = client.post(URL, content=nested, headers={**admin, "content-type": "application/json"})
    assert 400 <= r.status_code < 500
    huge = {"name": "Huge", "description": "x" * 5_000_000, "spec": {}}
    assert client.post(URL, json=huge, headers=admin).status_code == 413
    big = str(2**64)
    assert client.get(f"{URL}/{big}/diagram", headers=admin).status_code == 404
    assert client.post(f"{URL}/{big}/archive", headers=admin).status_code == 404
    r = client.get(f"{URL}/gm/explain", params={"partner_campaign_id": big}, headers=admin)
    assert r.status_code == 422 and fields(r) == ["partner_campaign_id"]
    r = client.get(f"{URL}/gm/explain", headers=admin)
    assert r.status_code == 422 and fields(r) == ["partner_campaign_id"]
    r = client.get(f"{URL}/gm/diagram", params={"format": "svg"}, headers=admin)
    assert r.status_code == 422 and fields(r) == ["format"]
    r = client.get(URL, params={"archived": "maybe"}, headers=admin)
    assert r.status_code == 422 and fields(r) == ["archived"]


def test_two_versions_posted_at_once_get_distinct_numbers(
    client: TestClient, login: Login, demo: Engine
) -> None:
    key = create(client, login, "Busy", {"stages": [stage("gm", GM)]})["key"]
    admin = login(ADMIN)

    def post(i: int) -> tuple[int, int | None]:
        spec = {"stages": [stage(f"gm{i}", GM)]}
        r = client.post(f"{URL}/{key}/versions", json={"spec": spec}, headers=admin)
        return r.status_code, r.json().get("current_version")

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(post, range(6)))
    assert {code for code, _ in answers} <= {201, 409}, answers
    saved = client.get(f"{URL}/{key}", headers=admin).json()
    numbers = [v["number"] for v in saved["versions"]]
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(numbers) == 1 + sum(code == 201 for code, _ in answers)


# Delegations ------------------------------------------------------------------------------------

ME = "/api/v1/me/delegations"


def period(days: int = 7, start: int = 0) -> dict[str, str]:
    begins = datetime.now(UTC) + timedelta(days=start)
    return {
        "starts_at": begins.isoformat(),
        "ends_at": (begins + timedelta(days=days)).isoformat(),
    }


def test_delegations_are_created_listed_and_revoked_with_audit_events(
    client: TestClient, login: Login, demo: Engine
) -> None:
    ids = users(demo)
    made = client.post(
        ME,
        json={"delegate_email": "Brand2@Northwind.example", "note": "holiday", **period()},
        headers=login(REVIEWER),
    )
    assert made.status_code == 201, made.text
    row = made.json()
    assert (row["direction"], row["delegate_id"], row["active"]) == (
        "given",
        ids[REVIEWER2],
        True,
    )
    assert row["user_id"] == ids[REVIEWER] and row["delegate_name"]
    received = client.get(ME, headers=login(REVIEWER2)).json()
    assert [(d["id"], d["direction"]) for d in received["items"]] == [(row["id"], "received")]
    given = client.get(ME, params={"direction": "received"}, headers=login(REVIEWER)).json()
    assert given["items"] == [] and given["total"] == 0
    later = client.post(
        ME, json={"delegate_id": ids[MARKETING], **period(3, start=10)}, headers=login(REVIEWER)
    )
    assert later.status_code == 201 and later.json()["active"] is False

    # Only the approver revokes; the delegate and other brands get 404.
    url = f"{ME}/{row['id']}/revoke"
    assert client.post(url, headers=login(REVIEWER2)).status_code == 404
    assert client.post(url, headers=login(CONTOSO)).status_code == 404
    assert client.get(ME, headers=login(CONTOSO)).json()["items"] == []
    done = client.post(url, headers=login(REVIEWER))
    assert done.status_code == 200 and done.json()["revoked_at"]
    assert client.post(url, headers=login(REVIEWER)).status_code == 200  # twice: no change
    assert client.get(ME, headers=login(REVIEWER2)).json()["items"] == []
    assert actions(demo, "delegation.") == [
        "delegation.created",
        "delegation.created",
        "delegation.revoked",
    ]
    with Session(demo) as s:
        revoked = s.exec(select(AuditEvent).where(AuditEvent.action == "delegation.revoked")).one()
        assert revoked.actor == str(ids[REVIEWER]) and revoked.entity_id == str(row["id"])


def test_bad_delegations_name_the_field(client: TestClient, login: Login, demo: Engine) -> None:
    ids = users(demo)
    me = login(REVIEWER)
    naive = datetime.now(UTC).replace(tzinfo=None)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"delegate_id": ids[REVIEWER], **period()}, "delegate_id"),  # not to oneself
        ({"delegate_email": REVIEWER, **period()}, "delegate_email"),
        ({"delegate_id": ids[CONTOSO], **period()}, "delegate_id"),  # another brand
        ({"delegate_email": CONTOSO, **period()}, "delegate_email"),
        ({"delegate_email": "nobody@example.com", **period()}, "delegate_email"),
        ({"delegate_id": 999999, **period()}, "delegate_id"),
        ({"delegate_id": 2**64, **period()}, "delegate_id"),
        ({"delegate_id": 0, **period()}, "delegate_id"),
        ({**period()}, "delegate_id"),  # nobody named
        ({"delegate_id": ids[REVIEWER2], "delegate_email": REVIEWER2, **period()}, "delegate_id"),
        ({"delegate_id": ids[REVIEWER2], **period(days=-1)}, "ends_at"),  # ends before it starts
        ({"delegate_id": ids[REVIEWER2], **period(days=400)}, "ends_at"),  # too long
        ({"delegate_id": ids[REVIEWER2], **period(days=2, start=-5)}, "ends_at"),  # over
        (
            {
                "delegate_id": ids[REVIEWER2],
                "starts_at": naive.isoformat(),
                "ends_at": (naive + timedelta(days=1)).isoformat(),
            },
            "starts_at",
        ),
        ({"delegate_id": ids[REVIEWER2], "starts_at": "soon", "ends_at": "later"}, "starts_at"),
        ({"delegate_id": ids[REVIEWER2], "note": "x" * 501, **period()}, "note"),
        ({"delegate_id": ids[REVIEWER2], "extra": 1, **period()}, "extra"),
    ]
    for body, field in cases:
        r = client.post(ME, json=body, headers=me)
        assert r.status_code == 422, (body, r.text)
        assert field in fields(r), (body, r.text)
    for bad in (str(2**64), "999999", "-1"):
        assert client.post(f"{ME}/{bad}/revoke", headers=me).status_code == 404, bad
    assert client.post(f"{ME}/x/revoke", headers=me).status_code == 422
    assert actions(demo, "delegation.") == []
