"""HQ designs a journey through the API: create with its first version, refusals that name the
nested field, new versions (immutable), publish, retire, the mermaid diagram; who sees what."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from domain.journeys import EnrolmentState
from domain.states import DeliveryStatus
from models.audit import AuditEvent
from models.journeys import JourneyVersion
from tests.journeys.design_fixtures import (
    ADMIN,
    EDITOR,
    GM,
    GM_HAMBURG,
    MARKETER,
    activation_row,
    birthday_spec,
    draft_version,
    journey_row,
    open_day_version,
    run_side_rows,
)

Login = Callable[[str], dict[str, str]]


def create(
    client: TestClient, login: Login, spec: dict[str, object], key: str = "birthday"
) -> httpx.Response:
    return client.post(
        "/api/v1/journeys",
        json={"key": key, "name": "Birthday", "spec": spec},
        headers=login(MARKETER),
    )


def test_hq_creates_versions_publishes_and_retires_a_journey(
    client: TestClient, login: Login, demo: Engine
) -> None:
    version_id = open_day_version(demo)
    made = create(client, login, birthday_spec(version_id))
    assert made.status_code == 201, made.text
    body = made.json()
    jid = body["id"]
    assert (body["state"], body["current_version"], len(body["versions"])) == ("draft", 1, 1)
    assert body["summary"][0] == "Starts when: On the contact's birthday, at 09:00 local time."
    assert body["summary"][1] == "Send the email “Open day” version 1."

    again = create(client, login, birthday_spec(version_id))
    assert again.status_code == 409 and "key" in again.json()["detail"]

    changed = birthday_spec(version_id)
    changed["steps"][1]["days"] = 5  # type: ignore[index]
    v2 = client.post(
        f"/api/v1/journeys/{jid}/versions",
        json={"spec": changed, "note": "five days"},
        headers=login(MARKETER),
    )
    assert v2.status_code == 201, v2.text
    assert v2.json()["version"] == 2
    with Session(demo) as s:
        stored = s.exec(
            select(JourneyVersion)
            .where(JourneyVersion.journey_id == jid)
            .order_by(col(JourneyVersion.version))
        ).all()
    assert [v.spec["steps"][1]["days"] for v in stored] == [3, 5]  # version 1 unchanged

    published = client.post(f"/api/v1/journeys/{jid}/publish", headers=login(ADMIN))
    assert published.status_code == 200 and published.json()["state"] == "published"
    twice = client.post(f"/api/v1/journeys/{jid}/publish", headers=login(ADMIN))
    assert twice.status_code == 409
    diagram = client.get(f"/api/v1/journeys/{jid}/diagram", headers=login(GM))
    assert diagram.status_code == 200
    text = diagram.json()["mermaid"]
    assert text.startswith("flowchart TD\n")
    assert 's_pause[/"pause: Wait 5 days"/]' in text
    assert "s_opened -- yes --> s_done" in text and "s_opened -- no --> s_remind" in text
    first = client.get(f"/api/v1/journeys/{jid}/diagram?version=1", headers=login(GM))
    assert "Wait 3 days" in first.json()["mermaid"]
    missing = client.get(f"/api/v1/journeys/{jid}/diagram?version=9", headers=login(GM))
    assert missing.status_code == 404

    retired = client.post(f"/api/v1/journeys/{jid}/retire", headers=login(MARKETER))
    assert retired.status_code == 200 and retired.json()["state"] == "retired"
    late = client.post(
        f"/api/v1/journeys/{jid}/versions", json={"spec": changed}, headers=login(MARKETER)
    )
    assert late.status_code == 409
    with Session(demo) as s:
        actions = s.exec(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == "journey", AuditEvent.entity_id == str(jid))
            .order_by(col(AuditEvent.seq))
        ).all()
    assert list(actions) == [
        "journey.created",
        "journey.version_added",
        "journey.published",
        "journey.retired",
    ]


def test_refusals_name_the_nested_field(client: TestClient, login: Login, demo: Engine) -> None:
    published, draft = open_day_version(demo), draft_version(demo)

    def errors(spec: dict[str, object]) -> dict[str, str]:
        resp = create(client, login, spec)
        assert resp.status_code == 422, resp.text
        return {e["field"]: e["message"] for e in resp.json()["errors"]}

    spec = birthday_spec(published)
    spec["steps"][3]["template_version_id"] = draft  # type: ignore[index]
    assert errors(spec) == {
        "spec.steps[3].template_version_id": f"version {draft} is not published"
    }
    spec["steps"][3]["template_version_id"] = 999_999  # type: ignore[index]
    assert errors(spec) == {"spec.steps[3].template_version_id": "version 999999 does not exist"}
    spec = birthday_spec(published)
    spec["steps"][1] = {"id": "pause", "kind": "wait", "next": "opened"}  # type: ignore[index]
    assert errors(spec) == {"spec.steps[1]": "days or until_local_time: a wait says how long"}
    spec = birthday_spec(published)
    spec["steps"][3]["next"] = "greet"  # type: ignore[index]
    assert errors(spec) == {
        "spec.steps": "the journey loops (greet -> pause -> opened -> remind -> greet)"
    }
    spec = birthday_spec(published)
    spec["entry"] = "nowhere"
    assert errors(spec) == {"spec.entry": "no step 'nowhere'"}
    spec = birthday_spec(published)
    spec["trigger"] = {"kind": "inactivity"}
    assert errors(spec) == {"spec.trigger.days": "an inactivity trigger says after how many days"}
    spec = birthday_spec(published)
    spec["steps"][0]["template_version_id"] = "nine"  # type: ignore[index]
    assert list(errors(spec)) == ["spec.steps[0].template_version_id"]


def test_who_sees_and_designs_journeys(client: TestClient, login: Login, demo: Engine) -> None:
    version_id = open_day_version(demo)
    draft = journey_row(demo, version_id, state="draft", key="draft")  # type: ignore[arg-type]
    live = journey_row(demo, version_id, key="live")

    def listed(email: str) -> list[int]:
        resp = client.get("/api/v1/journeys", headers=login(email))
        assert resp.status_code == 200
        return sorted(j["id"] for j in resp.json()["items"])

    assert listed(MARKETER) == sorted([draft, live])
    assert listed(GM) == [live]  # partners never see drafts
    assert listed("admin@contoso.example") == []
    drafts = client.get("/api/v1/journeys?state=draft&sort=name", headers=login(MARKETER))
    assert [j["id"] for j in drafts.json()["items"]] == [draft]
    bad = client.get("/api/v1/journeys?sort=key", headers=login(MARKETER))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "sort"
    assert client.get(f"/api/v1/journeys/{draft}", headers=login(EDITOR)).status_code == 404
    assert client.get(f"/api/v1/journeys/{live}", headers=login(EDITOR)).status_code == 200
    foreign = client.get(f"/api/v1/journeys/{live}", headers=login("admin@contoso.example"))
    assert foreign.status_code == 404
    for email in (GM, EDITOR, "brand@northwind.example"):
        resp = client.post(f"/api/v1/journeys/{live}/retire", headers=login(email))
        assert resp.status_code == 403, email
    assert create(client, login, birthday_spec(version_id)).status_code == 201
    other = client.post(
        "/api/v1/journeys",
        json={"key": "x", "name": "X", "spec": birthday_spec(version_id)},
        headers=login("admin@contoso.example"),
    )
    assert other.status_code == 422  # Northwind's template version is not Contoso's
    assert other.json()["errors"][0]["message"] == f"version {version_id} does not exist"


def test_activations_list_counts_from_the_run_side(
    client: TestClient, login: Login, demo: Engine
) -> None:
    version_id = open_day_version(demo)
    jid = journey_row(demo, version_id)
    ams = activation_row(demo, jid, "amsterdam")
    ham = activation_row(demo, jid, "hamburg")
    run_side_rows(
        demo,
        jid,
        ams,
        version_id,
        {EnrolmentState.running: 3, EnrolmentState.completed: 2, EnrolmentState.exited: 1},
        {DeliveryStatus.sent: 4, DeliveryStatus.failed: 1},
    )

    def seen(email: str) -> dict[str, dict[str, object]]:
        resp = client.get(f"/api/v1/journeys/{jid}/activations", headers=login(email))
        assert resp.status_code == 200, resp.text
        return {a["partner_name"]: a["counts"] for a in resp.json()["items"]}

    hq = seen(ADMIN)
    assert len(hq) == 2
    assert list(seen(GM_HAMBURG)) == [next(k for k in hq if "Hamburg" in k)]
    mine = seen(GM)
    assert len(mine) == 1
    (counts,) = mine.values()
    assert counts == {
        "running": 3,
        "completed": 2,
        "exited": 1,
        "sent": 4,
        "sends": {"failed": 1, "sent": 4},
    }
    assert ham != ams
    detail = client.get(f"/api/v1/journeys/{jid}", headers=login(ADMIN)).json()
    assert detail["active_partners"] == 2
