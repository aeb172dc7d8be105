"""The phone suppression list: idempotent, normalised, denies SMS consent on the brand's
contacts with the number, audited without the number, and scoped to one brand."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.errors import FieldError
from models.audit import AuditEvent
from models.contacts import Contact, PhoneSuppression
from models.org import Brand, Partner
from services.sms.suppression import (
    ACTION,
    WITHHELD,
    is_phone_suppressed,
    shown_phone,
    suppress_phone,
    suppressed_phones,
)

NUMBER = "+31612345678"


def _partner(s: Session, slug: str) -> Partner:
    return s.exec(select(Partner).where(Partner.slug == slug)).one()


def _contact(s: Session, partner: Partner, email: str, phone: str | None) -> Contact:
    assert partner.id is not None
    c = Contact(
        brand_id=partner.brand_id,
        partner_id=partner.id,
        email=email,
        phone=phone,
        sms_consent_status="granted",
        sms_consent_source="form",
    )
    s.add(c)
    s.flush()
    return c


def test_suppress_is_idempotent_normalised_and_denies_consent(demo: Engine) -> None:
    with Session(demo) as s:
        ams = _partner(s, "amsterdam")
        ann = _contact(s, ams, "ann-sms@example.com", NUMBER)
        other = _contact(s, ams, "bob-sms@example.com", "+31612345600")
        s.commit()
        first = suppress_phone(
            s, ams.brand_id, "06 1234 5678", "stop", partner_id=ams.id, source="sms inbound"
        )
        s.commit()
        again = suppress_phone(s, ams.brand_id, "+31 6 12345678", "invalid", source="send")
        s.commit()
        assert first.id == again.id and again.reason == "stop", "the first reason stays"
        assert first.phone == NUMBER
        rows = s.exec(select(PhoneSuppression)).all()
        assert len(rows) == 1
        s.refresh(ann)
        s.refresh(other)
        assert (ann.sms_consent_status, ann.sms_consent_source) == ("denied", "sms inbound")
        assert ann.sms_consent_at is not None
        assert other.sms_consent_status == "granted"
        events = s.exec(select(AuditEvent).where(AuditEvent.action == ACTION)).all()
        assert len(events) == 1, "a repeat appends nothing"
        event = events[0]
        assert event.after == {"reason": "stop", "source": "sms inbound", "contact_ids": [ann.id]}
        assert NUMBER not in str(event.after) and "5678" not in str(event.after)
        assert suppressed_phones(s, ams.brand_id, [NUMBER, "+31612345600", ""]) == {NUMBER}
        assert is_phone_suppressed(s, ams.brand_id, NUMBER)


def test_suppression_stays_within_its_brand(demo: Engine) -> None:
    with Session(demo) as s:
        ams = _partner(s, "amsterdam")
        other_brand = Brand(name="Elsewhere", slug="elsewhere")
        s.add(other_brand)
        s.commit()
        assert other_brand.id is not None
        suppress_phone(s, ams.brand_id, NUMBER, "stop", partner_id=ams.id)
        s.commit()
        assert suppressed_phones(s, other_brand.id, [NUMBER]) == set()
        assert suppressed_phones(s, ams.brand_id, [NUMBER]) == {NUMBER}


def test_not_a_number_names_the_field(demo: Engine) -> None:
    with Session(demo) as s:
        ams = _partner(s, "amsterdam")
        with pytest.raises(FieldError) as caught:
            suppress_phone(s, ams.brand_id, "call me", "manual")
        assert caught.value.errors[0]["field"] == "phone"


def test_partner_entries_are_withheld_from_callers_without_their_contact_data(
    demo: Engine,
) -> None:
    with Session(demo) as s:
        ams = _partner(s, "amsterdam")
        assert ams.id is not None
        row = suppress_phone(s, ams.brand_id, NUMBER, "stop", partner_id=ams.id)
        by_hand = suppress_phone(s, ams.brand_id, "+31612345600", "manual")
        assert shown_phone(row, frozenset({ams.id})) == NUMBER
        assert shown_phone(row, frozenset()) == WITHHELD
        assert shown_phone(by_hand, frozenset()) == "+31612345600"
