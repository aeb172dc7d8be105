"""Inbound STOP over SNS: a signed notification suppresses the number for every brand that
texted it; tampered, unsigned, foreign-topic and replayed posts change nothing; a reply that
is no stop word is acknowledged and recorded nowhere."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from mail.sms_inbound import stop_keyword
from models.audit import AuditEvent
from models.contacts import Contact, PhoneSuppression
from models.delivery import Delivery
from models.org import Brand, Partner
from services.sms.suppression import ACTION, suppressed_phones
from storage.local import LocalBlobStore
from tests.delivery.test_delivery import approved_row, good_values, make_segment
from tests.delivery.test_sns import CERT_URL, CONFIRM_URL, _confirmation, _signed, make_signer
from tests.engagement.test_ses_feedback import Recorder

URL = "/api/v1/sms/inbound"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:sms-inbound"
NUMBER = "+31612345678"


@pytest.fixture(scope="module")
def signer() -> tuple[rsa.RSAPrivateKey, bytes]:
    return make_signer()


@pytest.fixture
def sns(signer: tuple[Any, bytes]) -> Recorder:
    return Recorder(signer[1])


@pytest.fixture
def webhook(
    settings: Settings, demo: Engine, blob_store: LocalBlobStore, sns: Recorder
) -> Iterator[TestClient]:
    local = settings.model_copy(update={"sms_inbound_topic_arns": [TOPIC]})
    app = create_app(local, engine=demo, temporal=LazyTemporalClient(local), blob_store=blob_store)
    app.state.sns_fetch_cert = sns.fetch
    app.state.sns_confirm = sns.confirm
    with TestClient(app) as c:
        yield c


def texted(demo: Engine, phone: str, *, brand_id: int | None = None) -> Delivery:
    """A delivery row on the SMS channel to `phone` (Amsterdam's partner campaign; in another
    brand when `brand_id` is given, with a partner of that brand)."""
    tag = f"sms{uuid.uuid4().hex[:6]}"
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", tag))
    with Session(demo) as s:
        ams = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        partner = ams
        if brand_id is not None:
            partner = Partner(
                brand_id=brand_id, region_id=ams.region_id, display_name=f"Club {tag}", slug=tag
            )
            s.add(partner)
            s.flush()
        assert partner.id is not None
        contact = Contact(
            brand_id=partner.brand_id,
            partner_id=partner.id,
            email=f"{tag}@customers.example",
            phone=phone,
            sms_consent_status="granted",
        )
        s.add(contact)
        s.flush()
        row = Delivery(
            partner_campaign_id=pcid,
            brand_id=partner.brand_id,
            partner_id=partner.id,
            contact_id=contact.id,
            email=contact.email,
            channel="sms",
            phone=phone,
        )
        s.add(row)
        s.commit()
        s.refresh(row)
        s.expunge(row)
    return row


def inbound(body: str, origin: str = NUMBER, mid: str | None = None) -> dict[str, str]:
    message = {
        "originationNumber": origin,
        "destinationNumber": "+3197010000000",
        "messageKeyword": "KEYWORD_123456789012",
        "messageBody": body,
        "inboundMessageId": str(uuid.uuid4()),
        "previousPublishedMessageId": "wJ0zaQpxi7RVjOBX2Vd2BT",
    }
    return {
        "Type": "Notification",
        "MessageId": mid or str(uuid.uuid4()),
        "TopicArn": TOPIC,
        "Message": json.dumps(message),
        "Timestamp": "2026-12-03T12:00:00.000Z",
    }


def post(client: TestClient, envelope: dict[str, str]) -> Any:
    return client.post(URL, content=json.dumps(envelope))


def entries(demo: Engine, phone: str = NUMBER) -> list[tuple[int, int | None, str, str]]:
    with Session(demo) as s:
        rows = s.exec(select(PhoneSuppression).where(PhoneSuppression.phone == phone)).all()
        return sorted((r.brand_id, r.partner_id, r.reason, r.detail) for r in rows)


def test_a_signed_stop_suppresses_the_number_for_every_brand_that_texted_it(
    webhook: TestClient, demo: Engine, signer: tuple[Any, bytes]
) -> None:
    row = texted(demo, NUMBER)
    with Session(demo) as s:
        other = Brand(name="Elsewhere", slug=f"elsewhere-{uuid.uuid4().hex[:4]}")
        quiet = Brand(name="Quiet", slug=f"quiet-{uuid.uuid4().hex[:4]}")
        s.add(other)
        s.add(quiet)
        s.commit()
        other_id, quiet_id = other.id or 0, quiet.id or 0
    far = texted(demo, NUMBER, brand_id=other_id)
    with Session(demo) as s:  # a contact of a brand that never texted the number
        region = s.exec(select(Partner.region_id).where(Partner.slug == "amsterdam")).one()
        partner = Partner(
            brand_id=quiet_id, region_id=region, display_name="Quiet", slug="quiet-club"
        )
        s.add(partner)
        s.flush()
        s.add(
            Contact(
                brand_id=quiet_id,
                partner_id=partner.id or 0,
                email="quiet@customers.example",
                phone=NUMBER,
                sms_consent_status="granted",
            )
        )
        s.commit()
    resp = post(webhook, _signed(signer[0], inbound("Stop please")))
    assert resp.status_code == 200, resp.text
    assert entries(demo) == sorted(
        [
            (row.brand_id, row.partner_id, "stop", "replied STOP"),
            (other_id, far.partner_id, "stop", "replied STOP"),
        ]
    )
    with Session(demo) as s:
        consent = dict(
            s.exec(
                select(Contact.brand_id, Contact.sms_consent_status).where(Contact.phone == NUMBER)
            ).all()
        )
        assert consent == {row.brand_id: "denied", other_id: "denied", quiet_id: "granted"}
        assert suppressed_phones(s, quiet_id, [NUMBER]) == set()


def test_stop_in_dutch_and_german(
    webhook: TestClient, demo: Engine, signer: tuple[Any, bytes]
) -> None:
    dutch, german = "+31612345001", "+4915112345678"
    texted(demo, dutch)
    texted(demo, german)
    assert post(webhook, _signed(signer[0], inbound("AFMELDEN", dutch), "2")).status_code == 200
    assert post(webhook, _signed(signer[0], inbound("stopp!", german))).status_code == 200
    assert [e[3] for e in entries(demo, dutch)] == ["replied AFMELDEN"]
    assert [e[3] for e in entries(demo, german)] == ["replied STOPP"]
    assert post(webhook, _signed(signer[0], inbound("uit", "+31612345002"))).status_code == 200
    assert entries(demo, "+31612345002") == [], "a number no brand texted is recorded nowhere"


def test_other_replies_are_acknowledged_and_recorded_nowhere(
    webhook: TestClient, demo: Engine, signer: tuple[Any, bytes]
) -> None:
    texted(demo, NUMBER)
    with Session(demo) as s:
        before = len(s.exec(select(AuditEvent)).all())
    for text in ("Yes I will come", "don't stop", "{{ 7*7 }} <script>alert(1)</script>", ""):
        assert post(webhook, _signed(signer[0], inbound(text))).status_code == 200
    assert entries(demo) == []
    with Session(demo) as s:
        assert len(s.exec(select(AuditEvent)).all()) == before


def test_tampered_unsigned_foreign_and_replayed_posts_change_nothing(
    webhook: TestClient, demo: Engine, signer: tuple[Any, bytes]
) -> None:
    row = texted(demo, NUMBER)
    tampered = _signed(signer[0], inbound("Hello"))
    tampered["Message"] = tampered["Message"].replace("Hello", "STOP")
    resp = post(webhook, tampered)
    assert resp.status_code == 403 and resp.json()["errors"][0]["field"] == "Signature"
    unsigned = {**inbound("STOP"), "SignatureVersion": "1", "SigningCertURL": CERT_URL}
    resp = post(webhook, unsigned)
    assert resp.status_code == 403 and resp.json()["errors"][0]["field"] == "Signature"
    foreign = inbound("STOP")
    foreign["TopicArn"] = "arn:aws:sns:eu-west-1:999999999999:someone-else"
    assert post(webhook, _signed(signer[0], foreign)).status_code == 403
    assert entries(demo) == []

    first = _signed(signer[0], inbound("STOP", mid="replayed-1"))
    assert post(webhook, first).status_code == 200
    assert len(entries(demo)) == 1
    with Session(demo) as s:  # HQ lifts the entry by hand; the replay must not bring it back
        for entry in s.exec(select(PhoneSuppression).where(PhoneSuppression.phone == NUMBER)):
            s.delete(entry)
        s.commit()
    assert post(webhook, first).status_code == 200
    assert entries(demo) == []
    with Session(demo) as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.action == ACTION)).all()
        assert [e.brand_id for e in events] == [row.brand_id]
        assert NUMBER not in json.dumps(events[0].after)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json", "body"),
        ('{"Type": "Notification"}', "Signature"),
    ],
)
def test_malformed_bodies_name_the_problem(webhook: TestClient, body: str, field: str) -> None:
    resp = webhook.post(URL, content=body)
    assert resp.status_code in (400, 403)
    assert resp.json()["errors"][0]["field"] == field


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("not json", "Message"),
        ('{"messageBody": "STOP"}', "Message.originationNumber"),
        ('{"originationNumber": "+31612345678"}', "Message.messageBody"),
        ('{"originationNumber": "call me", "messageBody": "STOP"}', "Message.originationNumber"),
    ],
)
def test_a_signed_but_malformed_message_is_a_400_naming_the_field(
    webhook: TestClient, signer: tuple[Any, bytes], message: str, field: str
) -> None:
    envelope = {**inbound("STOP"), "Message": message}
    resp = post(webhook, _signed(signer[0], envelope))
    assert resp.status_code == 400, resp.text
    assert resp.json()["errors"][0]["field"] == field


def test_a_subscription_confirmation_is_confirmed(
    webhook: TestClient, sns: Recorder, signer: tuple[Any, bytes]
) -> None:
    confirmation = {**_confirmation(CONFIRM_URL), "TopicArn": TOPIC}
    assert post(webhook, _signed(signer[0], confirmation)).status_code == 200
    assert sns.confirmed == [CONFIRM_URL]


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("STOP", "STOP"),
        ("  stop!", "STOP"),
        ("Uit", "UIT"),
        ("afmelden.", "AFMELDEN"),
        ("Abmelden bitte", "ABMELDEN"),
        ("UNSUBSCRIBE", "UNSUBSCRIBE"),
        ("stopping", ""),
        ("please stop", ""),
        ("", ""),
    ],
)
def test_stop_words(text: str, word: str) -> None:
    assert stop_keyword(text) == word
