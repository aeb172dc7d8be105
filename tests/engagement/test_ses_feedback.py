"""The SES feedback webhook end to end: a signed SNS notification about a sent delivery
suppresses the address (bounce, complaint) and marks the ledger; unsigned, foreign-topic and
unknown-message posts change nothing."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
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
from tests.delivery.test_delivery import (
    ScriptedTransport,
    add_contacts,
    approved_row,
    good_values,
    make_segment,
    send_all,
    snapshot,
)
from tests.delivery.test_sns import (
    CERT_URL,
    CONFIRM_URL,
    HOSTILE_CERT_URLS,
    HOSTILE_SUBSCRIBE_URLS,
    TOPIC,
    _confirmation,
    _mail,
    _notification,
    _signed,
    make_signer,
)

URL = "/api/v1/feedback/ses"


@pytest.fixture(scope="module")
def signer() -> tuple[rsa.RSAPrivateKey, bytes]:
    return make_signer()


class Recorder:
    """Stands in for the certificate fetch and the confirmation GET, and counts the calls."""

    def __init__(self, cert: bytes) -> None:
        self.cert = cert
        self.fetched: list[str] = []
        self.confirmed: list[str] = []

    def fetch(self, url: str) -> bytes:
        self.fetched.append(url)
        return self.cert

    def confirm(self, url: str) -> None:
        self.confirmed.append(url)


def feedback_app(
    settings: Settings, demo: Engine, blob_store: LocalBlobStore, recorder: Recorder
) -> Any:
    local = settings.model_copy(update={"ses_sns_topic_arns": [TOPIC]})
    app = create_app(local, engine=demo, temporal=LazyTemporalClient(local), blob_store=blob_store)
    app.state.sns_fetch_cert = recorder.fetch
    app.state.sns_confirm = recorder.confirm
    return app


@pytest.fixture
def sns(signer: tuple[Any, bytes]) -> Recorder:
    return Recorder(signer[1])


@pytest.fixture
def webhook(
    settings: Settings, demo: Engine, blob_store: LocalBlobStore, sns: Recorder
) -> Iterator[TestClient]:
    with TestClient(feedback_app(settings, demo, blob_store, sns)) as c:
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
        assert list(kinds) == ["bounced"]
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


def stranger() -> dict[str, Any]:
    """An SES event about a message we never sent: acknowledged and ignored."""
    done = {"recipients": ["ann@example.com"], "timestamp": "2026-11-23T12:00:00.000Z"}
    return {"notificationType": "Delivery", "mail": _mail("unknown"), "delivery": done}


def assert_refused(resp: Any, field: str) -> None:
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["errors"][0]["field"] == field
    assert body["detail"].startswith(f"{field}: ")


@pytest.mark.parametrize("url", HOSTILE_CERT_URLS)
def test_a_hostile_signing_cert_url_is_a_400_naming_it(
    webhook: TestClient, sns: Recorder, signer: tuple[Any, bytes], url: str
) -> None:
    envelope = _signed(signer[0], _notification(stranger()), url=url)
    assert_refused(webhook.post(URL, content=json.dumps(envelope)), "SigningCertURL")
    assert sns.fetched == []


@pytest.mark.parametrize("url", HOSTILE_SUBSCRIBE_URLS)
def test_a_hostile_subscribe_url_is_a_400_and_never_fetched(
    webhook: TestClient, sns: Recorder, signer: tuple[Any, bytes], url: str
) -> None:
    envelope = _signed(signer[0], _confirmation(url))
    assert_refused(webhook.post(URL, content=json.dumps(envelope)), "SubscribeURL")
    assert sns.confirmed == []


def test_a_subscription_confirmation_is_confirmed(
    webhook: TestClient, sns: Recorder, signer: tuple[Any, bytes]
) -> None:
    envelope = _signed(signer[0], _confirmation(CONFIRM_URL))
    assert webhook.post(URL, content=json.dumps(envelope)).status_code == 200
    assert (sns.fetched, sns.confirmed) == ([CERT_URL], [CONFIRM_URL])


def test_a_burst_of_notifications_fetches_the_certificate_once(
    webhook: TestClient, sns: Recorder, signer: tuple[Any, bytes]
) -> None:
    for _ in range(20):
        envelope = _signed(signer[0], _notification(stranger()))
        assert webhook.post(URL, content=json.dumps(envelope)).status_code == 200
    assert sns.fetched == [CERT_URL]


def test_an_oversized_certificate_is_refused(
    webhook: TestClient, sns: Recorder, signer: tuple[Any, bytes]
) -> None:
    sns.cert = signer[1] + b"\n" * (64 * 1024)  # still a readable PEM, but too large
    envelope = _signed(signer[0], _notification(stranger()))
    resp = webhook.post(URL, content=json.dumps(envelope))
    assert_refused(resp, "SigningCertURL")
    assert "larger than 65536 bytes" in resp.json()["detail"]


async def test_the_event_loop_keeps_serving_while_a_certificate_is_fetched(
    settings: Settings, demo: Engine, blob_store: LocalBlobStore, signer: tuple[Any, bytes]
) -> None:
    """A slow certificate fetch must not hold up other requests. The fake fetch waits until
    the test, running on the event loop, releases it after another request was answered; a
    fetch run on the loop itself would wait in vain until its own timeout."""
    started, release = threading.Event(), threading.Event()
    released: list[bool] = []

    class Slow(Recorder):
        def fetch(self, url: str) -> bytes:
            started.set()
            released.append(release.wait(10))
            return super().fetch(url)

    app = feedback_app(settings, demo, blob_store, Slow(signer[1]))
    envelope = json.dumps(_signed(signer[0], _notification(stranger())))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            posting = asyncio.create_task(client.post(URL, content=envelope))
            assert await asyncio.to_thread(started.wait, 10)
            meanwhile = await client.get("/health")
            release.set()
            posted = await posting
    assert meanwhile.status_code == 200
    assert released == [True], "the fetch was not released while it ran: the loop was blocked"
    assert posted.status_code == 200, posted.text


def test_ses_events_land_in_the_event_table_once_per_notification(
    webhook: TestClient, demo: Engine, settings: Settings, signer: tuple[Any, bytes]
) -> None:
    row = sent_delivery(demo, settings, "events")
    bounce = {
        "bounceType": "Transient",
        "bounceSubType": "MailboxFull",
        "bouncedRecipients": [{"emailAddress": row.email}],
    }
    for _ in range(3):  # SNS delivers at least once: the same MessageId again
        assert post(webhook, signer[0], event("Bounce", row, bounce=bounce)).is_success
    done = {"recipients": [row.email], "timestamp": "2026-11-23T12:00:00.000Z"}
    fields = _notification(event("Delivery", row, delivery=done))
    fields["MessageId"] = "5f0c1d2e-another-notification"
    delivered = _signed(signer[0], fields)
    assert webhook.post(URL, content=json.dumps(delivered)).is_success
    with Session(demo) as s:
        rows = s.exec(select(DeliveryEvent).where(DeliveryEvent.delivery_id == row.id)).all()
    assert sorted((r.kind, r.source, r.detail) for r in rows) == [
        ("bounced", "ses", "Transient/MailboxFull"),
        ("delivered", "ses", None),
    ]
    assert {(r.brand_id, r.partner_id, r.partner_campaign_id) for r in rows} == {
        (row.brand_id, row.partner_id, row.partner_campaign_id)
    }
