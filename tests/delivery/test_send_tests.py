"""Test sends: the current version before approval, to the caller or the partner's own people,
marked as a test in the message and the outbox, never a ledger row, limited per partner
campaign, recorded in the timeline; tenant boundaries and injection in the values."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.errors import Problem
from core.policy import Principal
from core.settings import Settings
from domain.states import PartnerCampaignState
from mail.errors import PermanentSendError, TransportUnavailableError
from mail.transport import OutboxTransport, outbox_dir
from models.audit import AuditEvent
from models.campaigns import PartnerCampaign
from models.delivery import Delivery
from models.org import User
from models.outbox import OutboxMessage
from models.workflow_io import PartnerCampaignStatus, TimelineEntry
from scripts.demo.sender import AMSTERDAM_FROM, AMSTERDAM_FROM_NAME, AMSTERDAM_REPLY_TO
from services import campaign_actions, delivery, send_tests
from services.accounts import principal_for
from services.org import Actor
from tests.delivery.test_delivery import (
    ScriptedTransport,
    add_contacts,
    approved_row,
    good_values,
    make_segment,
    open_day_row,
    snapshot,
)
from tests.portal.test_portal import portal, sign_in  # noqa: F401 - fixture

Login = Callable[[str], dict[str, str]]
GM_AMS = "gm.amsterdam@northwind.example"
EDITOR_AMS = "editor.amsterdam@northwind.example"
GM_BERLIN = "gm.berlin@northwind.example"
NORTH = "north@northwind.example"
MARKETING = "marketing@northwind.example"
ADMIN = "admin@northwind.example"


def drafting_row(engine: Engine, values: dict[str, Any], slug: str = "amsterdam") -> int:
    """A partner campaign of "Open day" still being personalised (never approved)."""
    return open_day_row(engine, values, None, state="drafting", slug=slug)


def _outbox(engine: Engine, settings: Settings, pcid: int) -> list[EmailMessage]:
    with Session(engine) as s:
        rows = s.exec(
            select(OutboxMessage)
            .where(OutboxMessage.partner_campaign_id == pcid)
            .order_by(OutboxMessage.id)  # type: ignore[arg-type]
        ).all()
    assert all(r.is_test for r in rows)
    out = []
    for r in rows:
        parsed = BytesParser(policy=policy.default).parsebytes(
            (outbox_dir(settings) / r.path).read_bytes()
        )
        assert isinstance(parsed, EmailMessage)
        out.append(parsed)
    return out


def _post(
    client: TestClient, headers: dict[str, str], pcid: int, to: list[str] | None = None
) -> Any:
    body = {"to": to} if to is not None else None
    return client.post(f"/api/v1/partner-campaigns/{pcid}/test-sends", json=body, headers=headers)


def test_gm_test_send_before_approval_lands_in_the_outbox_marked_and_uncounted(
    client: TestClient, login: Login, settings: Settings
) -> None:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    pcid = drafting_row(engine, good_values())
    with Session(engine) as s:
        before = delivery.counts(s, pcid)
    resp = _post(client, login(GM_AMS), pcid)
    assert resp.status_code == 201, resp.text
    assert resp.json()["recipients"] == ["Daan Bakker, Amsterdam"]
    assert resp.json()["subject"].startswith("[Test] ")
    [msg] = _outbox(engine, settings, pcid)
    assert str(msg["To"]) == GM_AMS
    assert str(msg["Subject"]).startswith("[Test] ")
    assert msg["X-Brandrelay-Test"] == "yes"
    # Exactly as the real email: the partner's identity, the unsubscribe headers, a text part.
    assert msg["From"].addresses[0].addr_spec == AMSTERDAM_FROM
    assert str(msg["Reply-To"]) == AMSTERDAM_REPLY_TO
    assert msg["List-Unsubscribe"] and msg.get_body(("plain",)) is not None
    assert "Open day in Amsterdam" in msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    with Session(engine) as s:
        assert s.exec(select(Delivery).where(Delivery.partner_campaign_id == pcid)).all() == []
        assert delivery.counts(s, pcid) == before
        assert delivery.progress_of(s, pcid).total == 0
        pc = s.get(PartnerCampaign, pcid)
        assert pc is not None and pc.state == "drafting"  # nothing moved
        entries = send_tests.with_tests(s, pc, [])
    [entry] = entries
    assert entry.event == "test_sent" and entry.from_state == entry.to_state == "drafting"
    assert entry.comment == "test sent to 1: Daan Bakker, Amsterdam"
    assert GM_AMS not in (entry.comment or "")  # names, not addresses
    # The outbox API marks it too (HQ's viewer).
    listed = client.get(f"/api/v1/outbox?partner_campaign_id={pcid}", headers=login(ADMIN)).json()[
        "items"
    ]
    assert [m["test"] for m in listed] == [True]


def test_editor_sends_to_colleagues_of_the_partner_only(
    client: TestClient, login: Login, settings: Settings
) -> None:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    pcid = drafting_row(engine, good_values())
    headers = login(EDITOR_AMS)
    ok = _post(client, headers, pcid, [EDITOR_AMS, GM_AMS.upper(), GM_AMS])
    assert ok.status_code == 201, ok.text
    assert sorted(ok.json()["recipients"]) == [
        "Daan Bakker, Amsterdam",
        "Sanne de Vries, Amsterdam",
    ]
    assert len(_outbox(engine, settings, pcid)) == 2
    for to, field in [
        ([GM_BERLIN], "to[0]"),  # another partner's user
        ([EDITOR_AMS, NORTH], "to[1]"),  # the region's manager: not the partner's people
        (["someone.else@customers.example"], "to[0]"),  # a contact or nobody
        (["nobody\r\nBcc: x@example.com"], "to[0]"),
    ]:
        refused = _post(client, headers, pcid, to)
        assert refused.status_code == 422, to
        assert field in refused.text
    too_many = _post(client, headers, pcid, [EDITOR_AMS] * 6)
    assert too_many.status_code == 422 and "to" in too_many.text
    assert len(_outbox(engine, settings, pcid)) == 2  # nothing more went


def test_who_may_test_send(client: TestClient, login: Login) -> None:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    pcid = drafting_row(engine, good_values())
    assert _post(client, login(GM_BERLIN), pcid).status_code == 404  # another partner's GM
    assert _post(client, login(NORTH), pcid).status_code == 403  # reads, does not edit
    assert _post(client, login(MARKETING), pcid).status_code == 403
    assert _post(client, login("admin@contoso.example"), pcid).status_code == 404
    assert _post(client, login(ADMIN), pcid).status_code == 201  # brand admins, to themselves
    with Session(engine) as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.action == send_tests.ACTION)).all()
    assert len(events) == 1


def test_rate_limit_answers_429_with_retry_after(client: TestClient, login: Login) -> None:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    pcid = drafting_row(engine, good_values())
    other = drafting_row(engine, good_values())
    headers = login(GM_AMS)
    for _ in range(send_tests.RATE_LIMIT):
        assert _post(client, headers, pcid).status_code == 201
    refused = _post(client, headers, pcid)
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 0 < wait <= int(send_tests.RATE_WINDOW.total_seconds()) + 1
    assert _post(client, headers, other).status_code == 201  # per partner campaign
    with Session(engine) as s:
        pc = s.get(PartnerCampaign, pcid)
        assert pc is not None
        assert len(send_tests.with_tests(s, pc, [])) == send_tests.RATE_LIMIT
        # Tests older than the window no longer count.
        for event in s.exec(
            select(AuditEvent).where(
                AuditEvent.action == send_tests.ACTION, AuditEvent.entity_id == str(pcid)
            )
        ).all():
            send_tests.check_rate(s, pcid, now=event.at + send_tests.RATE_WINDOW * 2)


def test_values_are_data_in_a_test_send(
    client: TestClient, login: Login, settings: Settings
) -> None:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    pcid = drafting_row(engine, good_values(headline="{{7*7}} <img src=x onerror=alert(1)>"))
    resp = _post(client, login(GM_AMS), pcid)
    assert resp.status_code == 201, resp.text
    [msg] = _outbox(engine, settings, pcid)
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    # The headline as typed; an evaluated one would read "49 &lt;img" (signed image URLs and
    # colours elsewhere in the page may well contain a 49).
    assert "{{7*7}} &lt;img src=x" in html and "49 &lt;img" not in html
    assert "<img src=x" not in html and "&lt;img src=x" in html


def test_invalid_saved_values_are_refused_naming_the_field(
    client: TestClient, login: Login
) -> None:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    pcid = drafting_row(engine, good_values(headline=""))
    resp = _post(client, login(GM_AMS), pcid)
    assert resp.status_code == 422
    assert "headline" in resp.text


def _actor(engine: Engine, email: str) -> Actor:
    with Session(engine) as s:
        user = s.exec(select(User).where(User.email == email)).one()
        principal: Principal | None = principal_for(s, user)
    assert principal is not None
    return Actor(principal, f"req-{uuid.uuid4().hex[:8]}")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (TransportUnavailableError("smtp.connect", "Connection refused"), 503),
        (PermanentSendError("ses.MessageRejected", "Email address is not verified"), 422),
    ],
)
def test_transport_failure_is_a_clear_answer_not_a_500(
    demo: Engine, settings: Settings, error: Exception, status: int
) -> None:
    pcid = drafting_row(demo, good_values())
    transport = ScriptedTransport({GM_AMS: error})
    with Session(demo) as s, pytest.raises(Problem) as raised:
        send_tests.send_test(s, demo, settings, _actor(demo, GM_AMS), pcid, transport=transport)
    assert raised.value.status == status
    assert GM_AMS not in raised.value.detail
    with Session(demo) as s:  # a failed test is not recorded and costs no allowance
        assert send_tests.count_recent(s, pcid) == 0


def test_portal_button_sends_a_test_and_the_page_offers_the_partners_people(
    portal: TestClient,  # noqa: F811 - fixture
    settings: Settings,
) -> None:
    engine: Engine = portal.app.state.engine  # type: ignore[attr-defined]
    pcid = drafting_row(engine, good_values())
    token = sign_in(portal, GM_AMS)
    page = portal.get(f"/partner-campaigns/{pcid}")
    assert page.status_code == 200
    assert "Test versturen" in page.text and "Sanne de Vries, Amsterdam" in page.text
    assert "Jonas Weber, Berlin" not in page.text and "Daan Bakker, Amsterdam (jij)" in page.text
    with Session(engine) as s:
        editor = s.exec(select(User).where(User.email == EDITOR_AMS)).one()
        berlin = s.exec(select(User).where(User.email == GM_BERLIN)).one()
    sent = portal.post(
        f"/partner-campaigns/{pcid}/test-send",
        data={"csrf_token": token, "user_id": [str(editor.id)]},
    )
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"].endswith("done=tested")
    [msg] = _outbox(engine, settings, pcid)
    assert EDITOR_AMS in str(msg["To"])
    refused = portal.post(
        f"/partner-campaigns/{pcid}/test-send",
        data={"csrf_token": token, "user_id": [str(berlin.id)]},
    )
    assert refused.status_code == 422
    assert "only you or an active user of this partner" in refused.text


def test_timeline_shows_test_sends_beside_the_workflows_entries(
    client: TestClient, login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workflow's entries come from Temporal (replaced here by one entry); the tests from
    the audit trail, in time order."""
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    pcid = drafting_row(engine, good_values())
    headers = login(GM_AMS)
    assert _post(client, headers, pcid).status_code == 201
    earlier = TimelineEntry(
        seq=1,
        at=datetime.now(UTC) - timedelta(hours=1),
        event="invite",
        from_state="invited",
        to_state="drafting",
        actor_id=None,
    )

    async def connected() -> object:
        return object()

    async def status(_client: object, row: PartnerCampaign) -> PartnerCampaignStatus:
        return PartnerCampaignStatus(
            partner_campaign_id=row.id or 0,
            state=PartnerCampaignState.drafting,
            personalise_until=datetime.now(UTC) + timedelta(days=3),
            timeline=[earlier],
        )

    monkeypatch.setattr(client.app.state.temporal, "get", connected)  # type: ignore[attr-defined]
    monkeypatch.setattr(campaign_actions, "status_of", status)
    found = client.get(f"/api/v1/partner-campaigns/{pcid}/timeline", headers=headers)
    assert found.status_code == 200, found.text
    events = [e["event"] for e in found.json()["timeline"]]
    assert events == ["invite", "test_sent"]
    assert found.json()["timeline"][1]["comment"] == "test sent to 1: Daan Bakker, Amsterdam"
    # Who acted, by name beside the id: the workflow's own step is the system's.
    assert [e["actor_name"] for e in found.json()["timeline"]] == [
        "system",
        "Daan Bakker, Amsterdam",
    ]
    assert found.json()["timeline"][1]["actor_id"] is not None


def test_outbox_viewer_shows_the_partners_sender_and_the_test_marker(
    portal: TestClient,  # noqa: F811 - fixture
    settings: Settings,
) -> None:
    """The demo "Open day" email as HQ's outbox viewer shows it: the partner's From name and
    Reply-To; a GM's test beside it, marked, and absent from the delivery counts."""
    engine: Engine = portal.app.state.engine  # type: ignore[attr-defined]
    add_contacts(engine, "amsterdam", 1, tag="viewer")
    pcid = approved_row(engine, good_values(), make_segment(engine, "amsterdam", "viewer"))
    snapshot(engine, pcid)
    outbox = OutboxTransport(outbox_dir(settings), engine)
    assert delivery.send_batch(engine, settings, outbox, pcid, 10).sent == 1
    with Session(engine) as s:
        counts = delivery.counts(s, pcid)
    with Session(engine) as s:
        send_tests.send_test(s, engine, settings, _actor(engine, GM_AMS), pcid)
        s.commit()
    with Session(engine) as s:
        assert delivery.counts(s, pcid) == counts  # the test is not a delivery
        rows = s.exec(
            select(OutboxMessage)
            .where(OutboxMessage.partner_campaign_id == pcid)
            .order_by(OutboxMessage.id)  # type: ignore[arg-type]
        ).all()
    real, test = rows
    assert (real.is_test, test.is_test) == (False, True)
    sign_in(portal, ADMIN)
    listing = portal.get(f"/outbox?partner_campaign_id={pcid}").text
    assert listing.count('<span class="badge test">test</span>') == 1
    page = portal.get(f"/outbox/{real.id}").text
    assert f"{AMSTERDAM_FROM_NAME} &lt;{AMSTERDAM_FROM}&gt;" in page
    assert AMSTERDAM_REPLY_TO in page
    assert 'id="test-marker"' not in page
    marked = portal.get(f"/outbox/{test.id}").text
    assert 'id="test-marker"' in marked and "[Test] " in marked
