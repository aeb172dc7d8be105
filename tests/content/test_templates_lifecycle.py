"""Template versions through the HTTP API and TemplateWorkflow (real activities, real database,
the time-skipping server unless --workflow-env=local)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from api import problems
from content.render import RenderError
from models.audit import AuditEvent
from models.campaigns import Campaign, PartnerCampaign
from models.org import Partner, User
from models.templates import Template, TemplateVersion
from scripts.demo.templates import flyer_a5, open_day

HISTORIES = Path(__file__).parents[1] / "histories"
MARKETING = "marketing@northwind.example"
REVIEWER = "brand@northwind.example"
ADMIN = "admin@northwind.example"

Login = Callable[[str], dict[str, str]]


async def create(
    api: httpx.AsyncClient, login: Login, who: str = MARKETING, **content: Any
) -> dict[str, Any]:
    body = {"name": "Open day", "content": content or open_day().model_dump(mode="json")}
    resp = await api.post("/api/v1/templates", json=body, headers=login(who))
    assert resp.status_code == 201, resp.text
    return resp.json()["version"]  # type: ignore[no-any-return]


async def act(
    api: httpx.AsyncClient, login: Login, who: str, vid: int, action: str, **body: Any
) -> httpx.Response:
    return await api.post(f"/api/v1/versions/{vid}/{action}", json=body or None, headers=login(who))


def user_id(engine: Engine, email: str) -> int:
    with Session(engine) as s:
        uid = s.exec(select(User.id).where(User.email == email)).one()
    assert uid is not None
    return uid


async def test_author_submits_reviewer_publishes(
    app_with_worker: httpx.AsyncClient,
    login: Login,
    demo: Engine,
    record_history: Callable[[str, str], Awaitable[None]],
) -> None:
    api = app_with_worker
    version = await create(api, login)
    assert version["state"] == "draft"
    assert version["lint"] == []
    assert [s["name"] for s in version["slots"]][:3] == ["hero_image", "headline", "intro"]
    assert version["workflow_id"].startswith(f"template-{version['template_id']}-v1-")

    resp = await act(api, login, MARKETING, version["id"], "submit")
    assert resp.status_code == 200, resp.text
    assert resp.json()["state"] == "in_review"

    resp = await act(api, login, REVIEWER, version["id"], "decision", decision="approve")
    assert resp.status_code == 200, resp.text
    published = resp.json()
    assert published["state"] == "published"
    assert published["decided_by"] == user_id(demo, REVIEWER)
    assert published["published_at"] is not None

    # Published versions are immutable.
    patch = await api.patch(
        f"/api/v1/versions/{version['id']}",
        json={"content": open_day().model_dump(mode="json")},
        headers=login(MARKETING),
    )
    assert patch.status_code == 409
    assert "can no longer be changed" in patch.json()["detail"]

    timeline = (
        await api.get(f"/api/v1/versions/{version['id']}/timeline", headers=login(ADMIN))
    ).json()
    assert [(e["event"], e["to_state"]) for e in timeline["timeline"]] == [
        ("submit", "in_review"),
        ("approve", "published"),
    ]
    await act(api, login, MARKETING, version["id"], "retire")
    await record_history(version["workflow_id"], "template_publish")
    assert "stateDiagram-v2" in timeline["diagram"]

    with Session(demo) as s:
        events = s.exec(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "template_version")
            .order_by(col(AuditEvent.seq))
        ).all()
    actions = [(e.action, e.actor) for e in events]
    assert ("template_version.submit", str(user_id(demo, MARKETING))) in actions
    assert ("template_version.approve", str(user_id(demo, REVIEWER))) in actions
    assert all(
        e.workflow_id == version["workflow_id"] for e in events if "." in e.action and e.workflow_id
    )


async def test_four_eyes_author_cannot_approve(
    app_with_worker: httpx.AsyncClient, login: Login, workflow_env: WorkflowEnvironment
) -> None:
    api = app_with_worker
    version = await create(api, login, who=ADMIN)
    assert (await act(api, login, ADMIN, version["id"], "submit")).status_code == 200
    refused = await act(api, login, ADMIN, version["id"], "decision", decision="approve")
    assert refused.status_code == 403
    assert "Four eyes" in refused.json()["detail"]
    accepted = await act(api, login, REVIEWER, version["id"], "decision", decision="approve")
    assert accepted.json()["state"] == "published"

    # The refused update never entered history: exactly two accepted updates.
    history = await workflow_env.client.get_workflow_handle(version["workflow_id"]).fetch_history()
    accepted_updates = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    assert len(accepted_updates) == 2


async def test_request_changes_loop(
    app_with_worker: httpx.AsyncClient,
    login: Login,
    record_history: Callable[[str, str], Awaitable[None]],
) -> None:
    api = app_with_worker
    vid = (await create(api, login))["id"]
    await act(api, login, MARKETING, vid, "submit")

    no_comment = await act(api, login, REVIEWER, vid, "decision", decision="request_changes")
    assert no_comment.status_code == 422
    assert no_comment.json()["errors"][0]["field"] == "comment"

    resp = await act(
        api,
        login,
        REVIEWER,
        vid,
        "decision",
        decision="request_changes",
        comment="Headline default is too long for phones",
    )
    assert resp.json()["state"] == "changes_requested"
    assert resp.json()["decision_comment"] == "Headline default is too long for phones"

    content = open_day()
    headline = content.slot("headline")
    assert headline is not None
    headline.default = {"en": "Open day!"}
    patched = await api.patch(
        f"/api/v1/versions/{vid}",
        json={"content": content.model_dump(mode="json")},
        headers=login(MARKETING),
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["state"] == "draft"
    assert (await act(api, login, MARKETING, vid, "submit")).json()["state"] == "in_review"
    final = await act(api, login, REVIEWER, vid, "decision", decision="approve")
    assert final.json()["state"] == "published"
    timeline = (await api.get(f"/api/v1/versions/{vid}/timeline", headers=login(ADMIN))).json()
    assert [e["event"] for e in timeline["timeline"]] == [
        "submit",
        "request_changes",
        "revise",
        "submit",
        "approve",
    ]
    await act(api, login, MARKETING, vid, "retire")  # a closed workflow records a whole history
    await record_history(patched.json()["workflow_id"], "template_changes_loop")


async def test_reject_is_final_and_new_versions(
    app_with_worker: httpx.AsyncClient, login: Login
) -> None:
    api = app_with_worker
    v1 = await create(api, login)
    await act(api, login, MARKETING, v1["id"], "submit")
    rejected = await act(
        api, login, REVIEWER, v1["id"], "decision", decision="reject", comment="Off-brand"
    )
    assert rejected.json()["state"] == "rejected"
    again = await act(api, login, MARKETING, v1["id"], "submit")
    assert again.status_code == 409
    assert "rejected" in again.json()["detail"]

    v2 = await api.post(
        f"/api/v1/templates/{v1['template_id']}/versions", json={}, headers=login(MARKETING)
    )
    assert v2.status_code == 201, v2.text
    assert v2.json()["number"] == 2 and v2.json()["state"] == "draft"
    assert v2.json()["content"] == v1["content"]
    busy = await api.post(
        f"/api/v1/templates/{v1['template_id']}/versions", json={}, headers=login(MARKETING)
    )
    assert busy.status_code == 409


async def test_retire_a_published_version(app_with_worker: httpx.AsyncClient, login: Login) -> None:
    api = app_with_worker
    vid = (await create(api, login))["id"]
    assert (await act(api, login, MARKETING, vid, "retire")).status_code == 409
    await act(api, login, MARKETING, vid, "submit")
    await act(api, login, REVIEWER, vid, "decision", decision="approve")
    retired = await act(api, login, MARKETING, vid, "retire")
    assert retired.json()["state"] == "retired"


async def test_roles_and_tenancy(app_with_worker: httpx.AsyncClient, login: Login) -> None:
    api = app_with_worker
    vid = (await create(api, login))["id"]
    assert (
        await api.get(f"/api/v1/versions/{vid}", headers=login("admin@contoso.example"))
    ).status_code == 404
    assert (
        await api.get("/api/v1/templates", headers=login("gm.amsterdam@northwind.example"))
    ).status_code == 403
    assert (await act(api, login, REVIEWER, vid, "submit")).status_code == 403
    await act(api, login, MARKETING, vid, "submit")
    assert (
        await act(api, login, MARKETING, vid, "decision", decision="approve")
    ).status_code == 403
    contoso = await act(api, login, "admin@contoso.example", vid, "decision", decision="approve")
    assert contoso.status_code == 404
    listing = (await api.get("/api/v1/templates", headers=login("admin@contoso.example"))).json()
    assert listing["items"] == []


async def test_submit_refuses_lint_findings(
    app_with_worker: httpx.AsyncClient, login: Login
) -> None:
    api = app_with_worker
    content = open_day()
    assert content.email is not None
    content.email.text = content.email.text.replace(
        "{{ fragments.unsubscribe }}: {{ unsubscribe_url }}", ""
    )
    vid = (await create(api, login, **content.model_dump(mode="json")))["id"]
    version = (await api.get(f"/api/v1/versions/{vid}", headers=login(MARKETING))).json()
    assert any(i["part"] == "email.text" for i in version["lint"])
    resp = await act(api, login, MARKETING, vid, "submit")
    assert resp.status_code == 422
    assert resp.json()["title"] == "Template has lint findings"


async def test_validate_and_preview(app_with_worker: httpx.AsyncClient, login: Login) -> None:
    api = app_with_worker
    vid = (await create(api, login))["id"]
    headers = login(MARKETING)
    bad = await api.post(
        f"/api/v1/versions/{vid}/validate",
        json={"values": {"headline": "x" * 80, "legal_footer": "mine now"}},
        headers=headers,
    )
    errors = {e["field"]: e for e in bad.json()["errors"]}
    assert bad.json()["valid"] is False
    assert errors["headline"]["code"] == "too_long"
    assert errors["legal_footer"]["code"] == "locked"

    values = {"headline": "{{ 7*7 }} <script>alert(1)</script>", "event_date": "2027-05-01"}
    html = await api.post(
        f"/api/v1/versions/{vid}/preview?format=html", json={"values": values}, headers=headers
    )
    assert html.status_code == 200, html.text
    assert "{{ 7*7 }}" in html.text and "<script>alert" not in html.text
    assert "Northwind Fitness Amsterdam" in html.text  # partner_field from the profile
    text = await api.post(
        f"/api/v1/versions/{vid}/preview?format=text", json={"values": values}, headers=headers
    )
    assert "{{ 7*7 }}" in text.text and "49" not in text.text

    refused = await api.post(
        f"/api/v1/versions/{vid}/preview?format=html",
        json={"values": {"headline": ""}},
        headers=headers,
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "headline"


async def test_pdf_preview_carries_the_values(
    app_with_worker: httpx.AsyncClient, login: Login
) -> None:
    api = app_with_worker
    body = {"name": "Flyer", "content": flyer_a5().model_dump(mode="json")}
    vid = (await api.post("/api/v1/templates", json=body, headers=login(MARKETING))).json()[
        "version"
    ]["id"]
    resp = await api.post(
        f"/api/v1/versions/{vid}/preview?format=pdf",
        json={"values": {"headline": "Kom langs!", "event_date": "2027-05-01"}, "locale": "nl"},
        headers=login(MARKETING),
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(resp.content)).pages)
    assert "Kom langs!" in text
    assert "Amsterdam" in text


@pytest.mark.parametrize("name", ["template_publish", "template_changes_loop"])
async def test_saved_histories_replay(name: str) -> None:
    """Histories recorded from earlier code must replay: a change that breaks running
    workflows fails here. Regenerate only for intended, patched changes (docs/operations.md)."""
    from temporalio.client import WorkflowHistory
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Replayer

    from workflows.template import TemplateWorkflow

    path = HISTORIES / f"{name}.json"
    history = WorkflowHistory.from_json(name, path.read_text())
    await Replayer(
        workflows=[TemplateWorkflow], data_converter=pydantic_data_converter
    ).replay_workflow(history)


def test_workflow_service_down_is_503_and_changes_nothing(
    client: TestClient, login: Login, demo: Engine
) -> None:
    """The suite's plain client has no Temporal server behind it, like an API whose cluster is
    down: actions answer 503 and leave the version as it was; refusals still come first."""
    with Session(demo) as s:
        draft = s.exec(select(TemplateVersion).where(TemplateVersion.state == "draft")).first()
    assert draft is not None and draft.id is not None
    resp = client.post(f"/api/v1/versions/{draft.id}/submit", headers=login(MARKETING))
    assert resp.status_code == 503
    assert resp.headers["Retry-After"]
    assert "nothing was changed" in resp.json()["detail"]
    with Session(demo) as s:
        assert s.get(TemplateVersion, draft.id).state == "draft"  # type: ignore[union-attr]
    refused = client.post(f"/api/v1/versions/{draft.id}/submit", headers=login(REVIEWER))
    assert refused.status_code == 403


# --- templates the sandbox refuses -----------------------------------------------------------

REPLACE_BOMB = '{% set a = "x" * 1000000 %}{{ a.replace("x", a) }}'
NESTING_BOMB = "{{ " + "(" * 10000 + "1" + ")" * 10000 + " }}"


def with_line_3(html: str, line: str) -> str:
    """`html` with `line` as its third line."""
    return f"<!-- 1 -->\n<!-- 2 -->\n{line}\n{html}"


def draft_id(engine: Engine) -> int:
    with Session(engine) as s:
        draft = s.exec(select(TemplateVersion).where(TemplateVersion.state == "draft")).first()
    assert draft is not None and draft.id is not None
    return draft.id


def save_html(client: TestClient, login: Login, vid: int, line: str) -> dict[str, Any]:
    """Saves the draft with `line` on line 3 of its email HTML, through the API."""
    content = open_day()
    assert content.email is not None
    content.email.html = with_line_3(content.email.html, line)
    resp = client.patch(
        f"/api/v1/versions/{vid}",
        json={"content": content.model_dump(mode="json")},
        headers=login(MARKETING),
    )
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def assert_refused(resp: httpx.Response, part: str, reason: str) -> None:
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    problem = resp.json()
    assert problem["title"] == "Template cannot be rendered"
    assert problem["errors"] == [{"field": part, "message": problem["errors"][0]["message"]}]
    message = problem["errors"][0]["message"]
    assert message.startswith("line 3: ") and reason in message, message
    assert problem["detail"] == f"{part}, {message}"


def test_preview_of_a_memory_bomb_is_422_naming_part_line_and_reason(
    client: TestClient, login: Login, demo: Engine
) -> None:
    vid = draft_id(demo)
    save_html(client, login, vid, REPLACE_BOMB)
    headers = login(MARKETING)
    for fmt in ("html", "text"):
        sample = client.get(f"/api/v1/versions/{vid}/preview?format={fmt}", headers=headers)
        assert_refused(sample, "email.html", "replace() would build")
    values = {"headline": "Hi", "event_date": "2027-05-01"}
    posted = client.post(
        f"/api/v1/versions/{vid}/preview", json={"values": values}, headers=headers
    )
    assert_refused(posted, "email.html", "replace() would build")


def test_print_proof_of_a_memory_bomb_is_422(
    client: TestClient, login: Login, demo: Engine
) -> None:
    with Session(demo) as s:
        version = s.exec(select(TemplateVersion).where(TemplateVersion.state == "published")).all()
        flyer = next(v for v in version if v.content.get("print"))
        content = flyer_a5()
        assert content.print is not None
        content.print.html = with_line_3(content.print.html, "{{ '%999999999s' % 'x' }}")
        flyer.content = content.model_dump(mode="json")
        s.add(flyer)
        s.commit()
        vid = flyer.id
    resp = client.get(f"/api/v1/versions/{vid}/preview?format=pdf", headers=login(MARKETING))
    assert_refused(resp, "print.html", "format widths of 10000 and more are not allowed")


def test_syntax_bomb_is_a_lint_finding_and_a_422(
    client: TestClient, login: Login, demo: Engine
) -> None:
    vid = draft_id(demo)
    saved = save_html(client, login, vid, NESTING_BOMB)
    finding = {"part": "email.html", "line": 3, "code": "too_deep"}
    assert [{k: i[k] for k in finding} for i in saved["lint"]] == [finding]
    linted = client.get(f"/api/v1/versions/{vid}/lint", headers=login(MARKETING)).json()
    assert linted == saved["lint"]
    preview = client.get(f"/api/v1/versions/{vid}/preview", headers=login(MARKETING))
    assert_refused(preview, "email.html", "brackets are nested more than 50 deep")
    submitted = client.post(f"/api/v1/versions/{vid}/submit", headers=login(MARKETING))
    assert submitted.status_code == 422  # the lint refuses before the workflow is asked
    assert submitted.json()["errors"][0]["field"] == "email.html:3"


def test_static_bombs_are_lint_findings_when_saved(
    client: TestClient, login: Login, demo: Engine
) -> None:
    vid = draft_id(demo)
    line = (
        "{{ '%999999999s' % 'x' }}{{ 'x' * 1000000 }}"
        "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ 'x'.ljust(99999999) }}"
    )
    saved = save_html(client, login, vid, line)
    found = sorted((i["line"], i["code"]) for i in saved["lint"])
    assert found == [
        (3, "huge_width"),
        (3, "huge_width"),
        (3, "large_repeat"),
        (3, "recursive_macro"),
    ]


def test_partner_campaign_preview_of_a_refused_template_is_422(
    client: TestClient, login: Login, demo: Engine
) -> None:
    pc_id = partner_campaign_on_bomb(demo)
    resp = client.get(
        f"/api/v1/partner-campaigns/{pc_id}/preview",
        headers=login("editor.amsterdam@northwind.example"),
    )
    assert_refused(resp, "email.html", "replace() would build")


def partner_campaign_on_bomb(engine: Engine) -> int:
    """An Amsterdam partner campaign (rows only, no workflow) on a published version whose
    email HTML carries REPLACE_BOMB on line 3."""
    with Session(engine) as s:
        marketer = s.exec(select(User).where(User.email == MARKETING)).one()
        version = s.exec(
            select(TemplateVersion)
            .join(Template, col(Template.id) == TemplateVersion.template_id)
            .where(Template.name == "Open day", TemplateVersion.state == "published")
        ).one()
        content = open_day()
        assert content.email is not None
        content.email.html = with_line_3(content.email.html, REPLACE_BOMB)
        version.content = content.model_dump(mode="json")
        amsterdam = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        start = datetime.now(UTC)
        campaign = Campaign(
            brand_id=marketer.brand_id,
            name="Bomb",
            template_version_id=version.id or 0,
            target={"all": True},
            personalise_until=start + timedelta(days=5),
            send_by=start + timedelta(days=10),
            created_by=marketer.id or 0,
        )
        s.add_all([version, campaign])
        s.flush()
        row = PartnerCampaign(
            campaign_id=campaign.id or 0,
            brand_id=amsterdam.brand_id,
            region_id=amsterdam.region_id,
            partner_id=amsterdam.id or 0,
            state="drafting",
            values={"headline": "Hi", "event_date": (start + timedelta(days=2)).date().isoformat()},
            workflow_id=f"partner-campaign-bomb-{uuid.uuid4().hex[:8]}",
        )
        s.add(row)
        s.commit()
        assert row.id is not None
        return row.id


def test_a_render_refusal_escaping_a_route_is_still_a_422() -> None:
    """Routes render through services.previews, which answers TemplateRefused itself; any
    other path that lets a RenderError through gets the same answer, never a 500."""
    app = FastAPI()
    problems.install(app)

    @app.get("/render")
    def render() -> None:
        raise RenderError("macros call each other too deep", "email.text", 7)

    resp = TestClient(app).get("/render")
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["errors"] == [
        {"field": "email.text", "message": "line 7: macros call each other too deep"}
    ]
