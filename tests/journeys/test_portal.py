"""The journey pages: HQ's list and journey page (diagram, versions, partners with counts), a
partner's page (what it does, the content form, status, counts), the switch-on from the form,
the GM's decision from the inbox, switch off; scope, and partner text shown as text."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from domain.journeys import ActivationState, EnrolmentState
from domain.states import DeliveryStatus
from models.journeys import JourneyActivation
from models.org import User
from tests.campaigns.test_campaign_workflows import until
from tests.claims.conftest import Running
from tests.claims.test_portal import portal_sign_in
from tests.journeys.design_fixtures import (
    EDITOR,
    GM,
    GM_HAMBURG,
    MARKETER,
    activation_row,
    event_day,
    journey_row,
    open_day_version,
    run_side_rows,
)
from tests.journeys.test_activation import task_open
from tests.portal.test_portal import sign_in

PAYLOAD = '<script>alert("x")</script>{{ 7*7 }}'


def speaks_english(demo: Engine, *emails: str) -> None:
    """These users chose English (their partner speaks Dutch or German)."""
    with Session(demo) as session:
        for user in session.exec(select(User).where(col(User.email).in_(emails))).all():
            user.locale = "en"
            session.add(user)
        session.commit()


def test_hq_sees_the_design_versions_and_partners_with_counts(
    portal: TestClient, demo: Engine
) -> None:
    version_id = open_day_version(demo)
    draft = journey_row(demo, version_id, state="draft", key="draft")  # type: ignore[arg-type]
    jid = journey_row(demo, version_id, key="live")
    aid = activation_row(demo, jid)
    activation_row(demo, jid, "hamburg", ActivationState.rejected)
    run_side_rows(
        demo,
        jid,
        aid,
        version_id,
        {EnrolmentState.running: 2, EnrolmentState.completed: 5},
        {DeliveryStatus.sent: 7},
    )
    sign_in(portal, MARKETER)
    listing = portal.get("/journeys")
    assert listing.status_code == 200
    assert f'href="/journeys/{jid}"' in listing.text and f'href="/journeys/{draft}"' in listing.text
    assert "running for 1 partner<" in listing.text
    page = portal.get(f"/journeys/{jid}")
    assert page.status_code == 200, page.text
    text = page.text
    assert "On the contact&#39;s birthday, at 09:00 local time" in text
    assert (
        "Send the email “Open day” version 1" in text and "If the previous email was opened" in text
    )
    assert "flowchart TD" in text  # the mermaid source under the drawn steps
    assert "Active: 1" in text and "Rejected: 1" in text
    assert "Contacts: 2 running, 5 completed, 0 exited · 7 emails sent" in text
    assert f'href="/journey-activations/{aid}"' in text
    assert 'href="/journeys"' in text  # in the navigation


def test_partners_see_their_own_page_and_nobody_else_s(portal: TestClient, demo: Engine) -> None:
    version_id = open_day_version(demo)
    draft = journey_row(demo, version_id, state="draft", key="draft")  # type: ignore[arg-type]
    jid = journey_row(demo, version_id, key="live")
    aid = activation_row(demo, jid)
    sign_in(portal, GM_HAMBURG)
    assert portal.get(f"/journeys/{draft}").status_code == 404
    assert portal.get(f"/journey-activations/{aid}").status_code == 404
    page = portal.get(f"/journeys/{jid}")
    assert page.status_code == 200
    # Hamburg's GM reads the page in the partner's German.
    assert "Für Northwind Fitness Hamburg" in page.text
    assert "nie eingeschaltet" in page.text
    assert 'name="v__greet__event_date"' in page.text  # the content form for each send step
    assert 'name="v__remind__event_date"' in page.text
    assert "/switch-off" not in page.text
    assert "Noch keine Vorschau" in page.text  # the open day's date is not given yet
    listing = portal.get("/journeys")
    assert f'href="/journeys/{draft}"' not in listing.text


async def test_editor_switches_on_gm_approves_from_the_inbox_and_switches_off(
    running: Running, demo: Engine
) -> None:
    api = running.api
    jid = journey_row(demo, open_day_version(demo))
    speaks_english(demo, EDITOR, GM)  # Amsterdam's people, reading the English words below
    csrf = await portal_sign_in(api, EDITOR)
    page = await api.get(f"/journeys/{jid}")
    assert page.status_code == 200 and "Ask the GM to switch it on" in page.text
    bad = await api.post(
        f"/journeys/{jid}/switch-on",
        data={"csrf_token": csrf, "v__greet__event_date": "soon", "v__greet__headline": PAYLOAD},
    )
    assert bad.status_code == 422
    assert re.search(r'id="f-greet-\d+-error">[^<]+', bad.text)  # next to its field
    assert "<script>alert" not in bad.text and "&lt;script&gt;" in bad.text
    ok = await api.post(
        f"/journeys/{jid}/switch-on",
        data={
            "csrf_token": csrf,
            "v__greet__event_date": event_day(),
            "v__greet__headline": PAYLOAD,
            "v__remind__event_date": event_day(),
        },
    )
    assert ok.status_code == 303, ok.text
    with Session(demo) as s:
        row = s.exec(select(JourneyActivation).where(JourneyActivation.journey_id == jid)).one()
    aid = row.id or 0
    assert row.values["greet"]["headline"] == PAYLOAD
    await until(lambda: task_open(demo, aid), "the GM's task")
    status = await api.get(f"/journeys/{jid}?done=requested")
    assert "Waiting for approval" in status.text and "/switch-off" not in status.text  # editor

    api.cookies.clear()
    csrf = await portal_sign_in(api, GM)
    inbox = await api.get("/inbox")
    assert f'href="/journey-activations/{aid}"' in inbox.text
    task = await api.get(f"/journey-activations/{aid}")
    assert task.status_code == 200 and "Approve and switch on" in task.text
    assert "&lt;script&gt;alert" in task.text and "<script>alert" not in task.text
    assert "{{ 7*7 }}" in task.text  # partner text is never template code
    assert 'title="Email preview of greet"' in task.text  # what the GM approves, drawn
    srcdoc = task.text.split('title="Email preview of greet" srcdoc="')[1].split('"></iframe>')[0]
    assert "{{ 7*7 }}" in srcdoc and "&amp;lt;script&amp;gt;" in srcdoc  # text, twice escaped
    decided = await api.post(
        f"/journey-activations/{aid}/decide", data={"csrf_token": csrf, "decision": "approve"}
    )
    assert decided.status_code == 303, decided.text
    mine = await api.get(f"/journeys/{jid}")
    assert 'class="badge active"' in mine.text and f"/journeys/{jid}/switch-off" in mine.text
    off = await api.post(
        f"/journeys/{jid}/switch-off", data={"csrf_token": csrf, "reason": "Winter break"}
    )
    assert off.status_code == 303
    with Session(demo) as s:
        after = s.get(JourneyActivation, aid)
        assert after is not None and (after.state, after.reason) == ("off", "Winter break")


async def test_hq_cannot_switch_a_partner_s_journey_on(running: Running, demo: Engine) -> None:
    api = running.api
    jid = journey_row(demo, open_day_version(demo))
    csrf = await portal_sign_in(api, "admin@northwind.example")
    resp = await api.post(f"/journeys/{jid}/switch-on", data={"csrf_token": csrf})
    assert resp.status_code == 403
