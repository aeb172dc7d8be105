"""The preference centre's SMS choices: email or SMS (SMS offered only with a number), SMS
consent withdrawn, each audited without the number; other partners' tokens change nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from core.settings import Settings
from services.sms.suppression import suppress_phone
from tests.engagement.test_preferences import audit_actions, contact_in, fresh, path_for

NUMBER = "+31612345678"


def test_sms_is_offered_only_with_a_number(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    none = contact_in(demo, "amsterdam", "pref.nonumber@example.com")
    page = client.get(path_for(settings, none)).text
    assert '<option value="sms"' not in page and "SMS is offered when" in page
    bad = client.post(f"{path_for(settings, none)}/channel", data={"channel": "sms"})
    assert bad.status_code == 422 and "channel" in bad.text
    after = fresh(demo, none)
    assert after is not None and after.channel == "email"
    assert audit_actions(demo, none) == []


def test_choosing_sms_grants_consent_and_is_audited(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    contact = contact_in(demo, "amsterdam", "pref.sms@example.com", phone=NUMBER)
    path = path_for(settings, contact)
    page = client.get(path).text
    assert '<option value="sms"' in page and NUMBER in page
    assert client.post(f"{path}/channel", data={"channel": "sms"}).status_code == 200
    after = fresh(demo, contact)
    assert after is not None
    assert (after.channel, after.sms_consent_status, after.sms_consent_source) == (
        "sms",
        "granted",
        "preference centre",
    )
    assert client.post(f"{path}/channel", data={"channel": "sms"}).status_code == 200
    assert audit_actions(demo, contact) == ["preferences.channel"], "a repeat records nothing"


def test_withdrawing_sms_denies_consent_and_returns_to_email(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    contact = contact_in(
        demo,
        "amsterdam",
        "pref.withdraw@example.com",
        phone=NUMBER,
        channel="sms",
        sms_consent_status="granted",
        sms_consent_source="form",
    )
    path = path_for(settings, contact)
    resp = client.post(f"{path}/sms-withdraw")
    assert resp.status_code == 200 and "no more SMS" in resp.text
    after = fresh(demo, contact)
    assert after is not None and (after.channel, after.sms_consent_status) == ("email", "denied")
    client.post(f"{path}/sms-withdraw")
    assert audit_actions(demo, contact) == ["preferences.sms_withdrawn"]
    with Session(demo) as s:
        from sqlmodel import select

        from models.audit import AuditEvent

        events = s.exec(select(AuditEvent).where(AuditEvent.actor == f"contact:{contact.id}"))
        assert all(NUMBER not in str(e.after) for e in events)


def test_a_stopped_number_is_shown_as_such(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    contact = contact_in(demo, "amsterdam", "pref.stopped@example.com", phone=NUMBER)
    with Session(demo) as s:
        suppress_phone(s, contact.brand_id, NUMBER, "stop", partner_id=contact.partner_id)
        s.commit()
    assert "you replied STOP" in client.get(path_for(settings, contact)).text


def test_foreign_tokens_cannot_choose_for_another_partners_contact(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    mine = contact_in(demo, "amsterdam", "pref.sms.mine@example.com", phone=NUMBER)
    theirs = contact_in(demo, "berlin", "pref.sms.theirs@example.com", phone="+4915112345678")
    forged = path_for(settings, theirs, partner_id=mine.partner_id)
    assert client.post(f"{forged}/channel", data={"channel": "sms"}).status_code == 404
    assert client.post(f"{forged}/sms-withdraw").status_code == 404
    after = fresh(demo, theirs)
    assert after is not None and (after.channel, after.sms_consent_status) == ("email", "unknown")
    assert audit_actions(demo, theirs) == []
