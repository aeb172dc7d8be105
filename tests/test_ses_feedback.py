"""The SES feedback webhook end to end: a signed SNS notification about a sent delivery
suppresses the address (bounce, complaint) and marks the ledger; unsigned, foreign-topic and
unknown-message posts change nothing."""

from __future__ import annotations

import json
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
from models.delivery import Delivery, DeliveryEvent
from services import suppression
from storage.local import LocalBlobStore
from tests.test_delivery import (
    ScriptedTransport,
    add_contacts,
    approved_row,
    good_values,
    make_segment,
    send_all,
    snapshot,
)
from tests.test_sns import TOPIC, _mail, _notification, _signed, make_signer

URL = "/api/v1/feedback/ses"


@pytest.fixture(scope="module")
def signer() -> tuple[rsa.RSAPrivateKey, bytes]:
    return make_signer()


@pytest.fixture
def webhook(
    settings: Settings, demo: Engine, blob_store: LocalBlobStore, signer: tuple[Any, bytes]
) -> Iterator[TestClient]:
    local = settings.model_copy(update={"ses_sns_topic_arns": [TOPIC]})
    app = create_app(local, engine=demo, temporal=LazyTemporalClient(local), blob_store=blob_store)
    app.state.sns_fetch_cert = lambda url: signer[1]
    with TestClient(app) as c:
        yield c


def sent_delivery(demo: Engine, settings: Settings, tag: str) -> Delivery:
    add_contacts(demo, "amsterdam", 1, tag=tag)
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", tag))
    snapshot(demo, pcid)
    send_all(demo, settings, ScriptedTransport(), pcid)
    with Session(demo) as s:
        row = s.exec(select(Delivery).where(Delivery.partner_campaign_id == pcid)).one()
        s.expunge(row)
    return row


def event(kind: str, row: Delivery, **extra: Any) -> dict[str, Any]:
    mail = _mail(ses_id=row.provider_message_id or "x")
    mail["headers"] = [{"name": "Message-ID", "value": row.message_id}]
    mail["tags"] = {}
    return {"notificationType": kind, "mail": mail, **extra}


def post(client: TestClient, key: rsa.RSAPrivateKey, body: dict[str, Any], **kw: Any) -> Any:
    envelope = _signed(key, _notification(body, **kw))
    return client.post(URL, content=json.dumps(envelope))


def test_a_permanent_bounce_suppresses_and_fails_the_delivery(
    webhook: TestClient, demo: Engine, settings: Settings, signer: tuple[Any, bytes]
) -> None:
    row = sent_delivery(demo, settings, "bounce")
    bounce = {
        "bounceType": "Permanent",
        "bounceSubType": "NoEmail",
        "bouncedRecipients": [{"emailAddress": row.email}],
    }
    resp = post(webhook, signer[0], event("Bounce", row, bounce=bounce))
    assert resp.status_code == 200, resp.text
    with Session(demo) as s:
        after = s.get(Delivery, row.id)
        assert after is not None and after.status == "failed" and after.permanent
        assert suppression.is_suppressed(s, row.brand_id, row.email)
        kinds = s.exec(select(DeliveryEvent.kind).where(DeliveryEvent.delivery_id == row.id))
        assert list(kinds) == ["bounce"]
        # The entry names the partner whose contact bounced: its address is that partner's.
        entry = suppression.find(s, row.brand_id, row.email.lower())
        assert entry is not None and entry.partner_id == row.partner_id


def test_a_complaint_suppresses_and_a_delivery_is_only_recorded(
    webhook: TestClient, demo: Engine, settings: Settings, signer: tuple[Any, bytes]
) -> None:
    complained = sent_delivery(demo, settings, "complaint")
    delivered = sent_delivery(demo, settings, "delivered")
    complaint = {"complainedRecipients": [{"emailAddress": complained.email}]}
    assert post(webhook, signer[0], event("Complaint", complained, complaint=complaint)).is_success
    done = {"recipients": [delivered.email], "timestamp": "2026-11-23T12:00:00.000Z"}
    assert post(webhook, signer[0], event("Delivery", delivered, delivery=done)).is_success
    with Session(demo) as s:
        assert suppression.is_suppressed(s, complained.brand_id, complained.email)
        assert not suppression.is_suppressed(s, delivered.brand_id, delivered.email)
        after = s.get(Delivery, delivered.id)
        assert after is not None and after.status == "sent"


def test_forged_foreign_and_unknown_posts_change_nothing(
    webhook: TestClient, demo: Engine, settings: Settings, signer: tuple[Any, bytes]
) -> None:
    row = sent_delivery(demo, settings, "forged")
    complaint = {"complainedRecipients": [{"emailAddress": row.email}]}
    envelope = _signed(signer[0], _notification(event("Complaint", row, complaint=complaint)))
    envelope["Message"] = envelope["Message"].replace("Complaint", "Delivery")  # tampered
    assert webhook.post(URL, content=json.dumps(envelope)).status_code == 400
    other_topic = "arn:aws:sns:eu-west-1:999999999999:someone-else"
    foreign = post(
        webhook, signer[0], event("Complaint", row, complaint=complaint), topic=other_topic
    )
    assert foreign.status_code == 403
    assert webhook.post(URL, content="not json").status_code == 400
    stranger = event("Complaint", row, complaint=complaint)
    stranger["mail"]["headers"] = [{"name": "Message-ID", "value": "<nobody@example>"}]
    stranger["mail"]["messageId"] = "unknown"
    stranger["mail"]["commonHeaders"] = {"messageId": "unknown"}
    assert post(webhook, signer[0], stranger).status_code == 200  # acknowledged, ignored
    with Session(demo) as s:
        assert not suppression.is_suppressed(s, row.brand_id, row.email)
