"""SES feedback through SNS: parse an HTTP POST body, check it is genuine, return an event.

Pure functions (no web framework, no database): the webhook route calls `parse_feedback` and
acts on the `SesFeedback` it returns (suppress a bounced address, mark the delivery).

Checks, in order, each a `SnsError` naming the field at fault when it fails:
1. the body is an SNS message of a known type with the fields its signature covers;
2. its TopicArn is one of the configured topics (setting SES_SNS_TOPIC_ARNS);
3. SigningCertURL, and a subscription confirmation's SubscribeURL, have the strict shape of
   `mail.sns_urls` (tests pass their own allow-list hook for the certificate URL), checked
   before anything is fetched;
4. the certificate, fetched by the caller's `fetch_cert(url) -> bytes` (PEM; see
   `mail.sns_http` for the bounded, cached fetcher), verifies the signature over SNS's
   canonical string: SignatureVersion 1 is RSA with SHA-1, version 2 RSA with SHA-256.

A SubscriptionConfirmation is returned as an event too (kind "subscription_confirmation",
with `subscribe_url`): confirming means GETting that URL, which the route does once checks pass.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mail.sns_urls import cert_url_problem, subscribe_url_problem

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"

# The fields each message type signs, in SNS's canonical order.
_SIGNED: dict[str, tuple[str, ...]] = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SIGNED[UNSUBSCRIBE_CONFIRMATION] = _SIGNED[SUBSCRIPTION_CONFIRMATION]
_OPTIONAL = frozenset({"Subject"})
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}

CertFetcher = Callable[[str], bytes]


class SnsError(ValueError):
    """The body is not an SNS message we accept: `str()` says why, `field` names the part of
    the body at fault and `status` the HTTP answer (400; 403 for a topic we do not take; 503
    when SNS could not be reached)."""

    def __init__(self, message: str, *, field: str = "body", status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


@dataclass(frozen=True)
class SesFeedback:
    kind: str  # bounce | complaint | delivery | subscription_confirmation | other SES events
    topic_arn: str
    timestamp: datetime
    ses_message_id: str | None = None  # SES's MessageId (what SesTransport.send returned)
    message_id: str | None = None  # our Message-ID header, when SES passed the headers on
    recipients: tuple[str, ...] = ()
    bounce_type: str | None = None  # Permanent | Transient | Undetermined
    bounce_subtype: str | None = None
    tags: dict[str, str] = field(default_factory=dict)  # mail.tags (configuration-set events)
    subscribe_url: str | None = None
    notification_id: str | None = None  # SNS's MessageId: the same on every redelivery


def load_envelope(body: bytes | str) -> dict[str, str]:
    """The SNS JSON object with the fields its type signs; SnsError otherwise."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise SnsError("is not JSON") from err
    if not isinstance(data, dict):
        raise SnsError("is not a JSON object")
    kind = data.get("Type")
    if kind not in _SIGNED:
        raise SnsError(f"unknown SNS message type {kind!r}", field="Type")
    needed = [k for k in _SIGNED[kind] if k not in _OPTIONAL]
    needed += ["Signature", "SignatureVersion", "SigningCertURL"]
    missing = [k for k in needed if not isinstance(data.get(k), str)]
    if missing:
        raise SnsError(f"missing fields: {', '.join(missing)}")
    return {k: v for k, v in data.items() if isinstance(v, str)}


def canonical_string(envelope: Mapping[str, str]) -> bytes:
    """What SNS signs: "Name\\nValue\\n" for each signed field present, in order."""
    lines = []
    for name in _SIGNED[envelope["Type"]]:
        if name in envelope:
            lines.append(f"{name}\n{envelope[name]}\n")
    return "".join(lines).encode()


def check_urls(
    envelope: Mapping[str, str], *, cert_url_allowed: Callable[[str], bool] | None = None
) -> None:
    """Refuse a SigningCertURL or SubscribeURL we would not fetch, before anything is fetched.
    `cert_url_allowed` replaces the certificate URL's check (tests serve their own)."""
    url = envelope["SigningCertURL"]
    if cert_url_allowed is None:
        problem = cert_url_problem(url)
    else:
        problem = None if cert_url_allowed(url) else "is not allowed"
    if problem is not None:
        raise SnsError(problem, field="SigningCertURL")
    if envelope["Type"] == SUBSCRIPTION_CONFIRMATION:
        problem = subscribe_url_problem(envelope["SubscribeURL"])
        if problem is not None:
            raise SnsError(problem, field="SubscribeURL")


def verify_signature(envelope: Mapping[str, str], fetch_cert: CertFetcher) -> None:
    """Raise SnsError unless the envelope is signed by the certificate SNS names (whose URL
    `check_urls` has accepted)."""
    algorithm = _HASHES.get(envelope.get("SignatureVersion", ""))
    if algorithm is None:
        raise SnsError(
            f"unsupported SignatureVersion {envelope.get('SignatureVersion')!r}",
            field="SignatureVersion",
        )
    try:
        signature = base64.b64decode(envelope["Signature"], validate=True)
    except (binascii.Error, ValueError) as err:
        raise SnsError(f"is not base64: {err}", field="Signature") from err
    try:
        cert = x509.load_pem_x509_certificate(fetch_cert(envelope["SigningCertURL"]))
    except SnsError:
        raise
    except ValueError as err:
        raise SnsError(
            f"does not lead to a PEM certificate: {err}", field="SigningCertURL"
        ) from err
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SnsError("leads to a certificate without an RSA key", field="SigningCertURL")
    try:
        key.verify(signature, canonical_string(envelope), padding.PKCS1v15(), algorithm())
    except InvalidSignature as err:
        raise SnsError("does not verify", field="Signature") from err


def _when(value: object, fallback: datetime) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return fallback
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return fallback


def _our_message_id(mail: Mapping[str, Any]) -> str | None:
    for header in mail.get("headers") or []:
        if isinstance(header, dict) and str(header.get("name", "")).lower() == "message-id":
            return str(header.get("value", "")).strip() or None
    common = mail.get("commonHeaders") or {}
    value = common.get("messageId") if isinstance(common, dict) else None
    return str(value).strip() if value else None


def _addresses(items: object, key: str | None = "emailAddress") -> tuple[str, ...]:
    if not isinstance(items, list):
        return ()
    out = [str(i.get(key)) if key and isinstance(i, dict) else str(i) for i in items]
    return tuple(a for a in out if a and a != "None")


def ses_event(envelope: Mapping[str, str]) -> SesFeedback:
    """The SES event inside a verified Notification (identity notifications use
    `notificationType`, configuration-set event publishing `eventType`)."""
    sent_at = _when(envelope.get("Timestamp"), datetime.now(UTC))
    try:
        body = json.loads(envelope["Message"])
    except ValueError as err:
        raise SnsError("is not JSON", field="Message") from err
    if not isinstance(body, dict):
        raise SnsError("is not a JSON object", field="Message")
    kind = str(body.get("eventType") or body.get("notificationType") or "").lower()
    if not kind:
        raise SnsError("is not an SES event (no eventType or notificationType)", field="Message")
    mail = body.get("mail") if isinstance(body.get("mail"), dict) else {}
    assert isinstance(mail, dict)
    detail = body.get(kind) if isinstance(body.get(kind), dict) else {}
    assert isinstance(detail, dict)
    raw_tags = mail.get("tags") if isinstance(mail.get("tags"), dict) else {}
    assert isinstance(raw_tags, dict)
    tags = {str(k): str(v[0]) for k, v in raw_tags.items() if isinstance(v, list) and v}
    recipients: tuple[str, ...] = ()
    if kind == "bounce":
        recipients = _addresses(detail.get("bouncedRecipients"))
    elif kind == "complaint":
        recipients = _addresses(detail.get("complainedRecipients"))
    elif kind == "delivery":
        recipients = _addresses(detail.get("recipients"), None)
    return SesFeedback(
        kind=kind,
        topic_arn=envelope["TopicArn"],
        timestamp=_when(detail.get("timestamp") or mail.get("timestamp"), sent_at),
        ses_message_id=str(mail["messageId"]) if mail.get("messageId") else None,
        message_id=_our_message_id(mail),
        recipients=recipients,
        bounce_type=str(detail["bounceType"])
        if kind == "bounce" and "bounceType" in detail
        else None,
        bounce_subtype=str(detail.get("bounceSubType"))
        if kind == "bounce" and detail.get("bounceSubType")
        else None,
        tags=tags,
        notification_id=envelope.get("MessageId") or None,
    )


def parse_feedback(
    body: bytes | str,
    *,
    topic_arns: Collection[str],
    fetch_cert: CertFetcher,
    cert_url_allowed: Callable[[str], bool] | None = None,
) -> SesFeedback:
    """Check and read one SNS POST body (see the module's docstring for the checks)."""
    envelope = load_envelope(body)
    if envelope["TopicArn"] not in topic_arns:
        raise SnsError(
            f"topic {envelope['TopicArn']!r} is not configured", field="TopicArn", status=403
        )
    check_urls(envelope, cert_url_allowed=cert_url_allowed)
    verify_signature(envelope, fetch_cert)
    if envelope["Type"] == NOTIFICATION:
        return ses_event(envelope)
    confirming = envelope["Type"] == SUBSCRIPTION_CONFIRMATION
    return SesFeedback(
        kind="subscription_confirmation" if confirming else "unsubscribe_confirmation",
        topic_arn=envelope["TopicArn"],
        timestamp=_when(envelope.get("Timestamp"), datetime.now(UTC)),
        subscribe_url=envelope["SubscribeURL"] if confirming else None,
    )
