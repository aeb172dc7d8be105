"""SES feedback over SNS: signed fixtures made here (a self-signed key standing in for SNS's),
parsed into typed events; wrong topics, foreign certificates and tampering are refused."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from mail.sns import SnsError, canonical_string, is_sns_cert_url, parse_feedback

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-feedback"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc123.pem"
OUR_ID = "<20261123.abc@northwind.example>"


@pytest.fixture(scope="module")
def signer() -> tuple[rsa.RSAPrivateKey, bytes]:
    return make_signer()


def make_signer() -> tuple[rsa.RSAPrivateKey, bytes]:
    """A key and a self-signed certificate standing in for SNS's."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


def _signed(
    key: rsa.RSAPrivateKey, fields: dict[str, str], version: str = "1", url: str = CERT_URL
) -> dict[str, str]:
    envelope = {**fields, "SignatureVersion": version, "SigningCertURL": url}
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    sig = key.sign(canonical_string(envelope), padding.PKCS1v15(), algorithm)
    envelope["Signature"] = base64.b64encode(sig).decode()
    return envelope


def _notification(event: dict[str, Any], topic: str = TOPIC) -> dict[str, str]:
    return {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": topic,
        "Message": json.dumps(event),
        "Timestamp": "2026-11-23T12:00:00.000Z",
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
    }


def _mail(ses_id: str = "0102018f-ses-id") -> dict[str, Any]:
    return {
        "timestamp": "2026-11-23T11:59:00.000Z",
        "messageId": ses_id,
        "source": "news@northwind.example",
        "headers": [
            {"name": "From", "value": "news@northwind.example"},
            {"name": "Message-ID", "value": OUR_ID},
        ],
        "commonHeaders": {"messageId": ses_id},
        "tags": {"delivery": ["d-12-99"], "partner_campaign": ["12"]},
    }


BOUNCE = {
    "notificationType": "Bounce",
    "mail": _mail(),
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [{"emailAddress": "gone@example.com", "status": "5.1.1"}],
        "timestamp": "2026-11-23T11:59:30.000Z",
    },
}


def _parse(body: dict[str, str] | str, cert: bytes, **kw: Any) -> Any:
    text = body if isinstance(body, str) else json.dumps(body)
    return parse_feedback(text, topic_arns=[TOPIC], fetch_cert=lambda url: cert, **kw)


def test_bounce_signature_v1(signer: tuple[rsa.RSAPrivateKey, bytes]) -> None:
    key, cert = signer
    event = _parse(_signed(key, _notification(BOUNCE), "1"), cert)
    assert event.kind == "bounce"
    assert event.recipients == ("gone@example.com",)
    assert (event.bounce_type, event.bounce_subtype) == ("Permanent", "General")
    assert event.ses_message_id == "0102018f-ses-id" and event.message_id == OUR_ID
    assert event.timestamp == dt.datetime(2026, 11, 23, 11, 59, 30, tzinfo=dt.UTC)
    assert event.tags == {"delivery": "d-12-99", "partner_campaign": "12"}
    assert event.topic_arn == TOPIC


def test_complaint_and_delivery_signature_v2(signer: tuple[rsa.RSAPrivateKey, bytes]) -> None:
    key, cert = signer
    complaint = {
        "eventType": "Complaint",  # configuration-set event publishing
        "mail": _mail("c-1"),
        "complaint": {
            "complainedRecipients": [{"emailAddress": "angry@example.com"}],
            "timestamp": "2026-11-23T12:01:00.000Z",
        },
    }
    got = _parse(_signed(key, _notification(complaint) | {"Subject": "Complaint"}, "2"), cert)
    assert (got.kind, got.recipients, got.bounce_type) == (
        "complaint",
        ("angry@example.com",),
        None,
    )
    delivery = {
        "notificationType": "Delivery",
        "mail": {"messageId": "d-1", "commonHeaders": {"messageId": "<ours@x>"}},
        "delivery": {"recipients": ["ann@example.com"], "timestamp": "2026-11-23T12:02:00Z"},
    }
    got = _parse(_signed(key, _notification(delivery), "2"), cert)
    assert (got.kind, got.recipients, got.message_id) == (
        "delivery",
        ("ann@example.com",),
        "<ours@x>",
    )


def test_subscription_confirmation(signer: tuple[rsa.RSAPrivateKey, bytes]) -> None:
    key, cert = signer
    fields = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9",
        "Token": "2336412f37f",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic ...",
        "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=x",
        "Timestamp": "2026-11-23T12:00:00.000Z",
    }
    got = _parse(_signed(key, fields, "1"), cert)
    assert got.kind == "subscription_confirmation"
    assert got.subscribe_url == fields["SubscribeURL"]


def test_refusals(signer: tuple[rsa.RSAPrivateKey, bytes]) -> None:
    key, cert = signer
    good = _signed(key, _notification(BOUNCE))

    fetched: list[str] = []
    other_topic = _signed(key, _notification(BOUNCE, topic=TOPIC + "-other"))
    with pytest.raises(SnsError, match="not configured"):
        parse_feedback(
            json.dumps(other_topic),
            topic_arns=[TOPIC],
            fetch_cert=lambda url: fetched.append(url) or cert,
        )
    assert fetched == [], "an unknown topic is refused before any certificate is fetched"

    tampered = dict(good)
    tampered["Message"] = json.dumps(
        {**BOUNCE, "bounce": {**BOUNCE["bounce"], "bounceType": "Transient"}}
    )  # type: ignore[dict-item]
    with pytest.raises(SnsError, match="does not verify"):
        _parse(tampered, cert)

    for url in (
        "http://sns.eu-west-1.amazonaws.com/cert.pem",
        "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem",
        "https://evil.example/sns.eu-west-1.amazonaws.com/cert.pem",
    ):
        with pytest.raises(SnsError, match="not allowed"):
            _parse(_signed(key, _notification(BOUNCE), url=url), cert)

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(SnsError, match="does not verify"):
        _parse(_signed(other_key, _notification(BOUNCE)), cert)
    with pytest.raises(SnsError, match="SignatureVersion"):
        _parse(good | {"SignatureVersion": "3"}, cert)
    with pytest.raises(SnsError, match="missing fields"):
        _parse({k: v for k, v in good.items() if k != "Signature"}, cert)
    for junk in ("not json", "[]", json.dumps({"Type": "Other"})):
        with pytest.raises(SnsError):
            _parse(junk, cert)


def test_a_test_allow_list_hook_replaces_the_host_check(
    signer: tuple[rsa.RSAPrivateKey, bytes],
) -> None:
    key, cert = signer
    local = "https://127.0.0.1:8443/test-cert.pem"
    body = _signed(key, _notification(BOUNCE), url=local)
    with pytest.raises(SnsError):
        _parse(body, cert)
    assert _parse(body, cert, cert_url_allowed=lambda url: url == local).kind == "bounce"


@pytest.mark.parametrize(
    "url, ok",
    [
        (CERT_URL, True),
        ("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem", True),
        ("https://sns.eu-west-1.amazonaws.com:8443/x.pem", False),
        ("https://sns.eu-west-1.amazonaws.com/x.txt", False),
        ("https://s3.amazonaws.com/x.pem", False),
    ],
)
def test_cert_url_allow_list(url: str, ok: bool) -> None:
    assert is_sns_cert_url(url) is ok
