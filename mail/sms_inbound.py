"""Inbound SMS through SNS (AWS two-way SMS): check the POST is genuine, read the reply.

Pure functions like mail.sns (whose envelope, URL and signature checks are reused as they are):
the route calls `parse_inbound` and acts on the `InboundSms` it returns. Answers differ from
the SES feedback route in one point: a message without a signature, or whose signature does not
verify, is a 403 (the caller is not SNS); every other refusal is a 400 naming the field.

The notification's Message is AWS's inbound-SMS JSON: originationNumber (who replied),
destinationNumber (our number), messageKeyword, messageBody, inboundMessageId.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from mail.sns import (
    NOTIFICATION,
    SUBSCRIPTION_CONFIRMATION,
    CertFetcher,
    SnsError,
    check_urls,
    load_envelope,
    verify_signature,
)
from models.phones import normalise_phone

# The first word of a reply that means "no more SMS", case-insensitive, in en, de and nl
# (with the words carriers and AWS treat as opt-outs in English).
STOP_WORDS = frozenset(
    {
        # en
        "stop",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "optout",
        "opt-out",
        "remove",
        # de
        "stopp",
        "abmelden",
        "abbestellen",
        "austragen",
        "ende",
        "beenden",
        # nl
        "afmelden",
        "uitschrijven",
        "uit",
        "stoppen",
    }
)
_FIRST_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)?")


@dataclass(frozen=True)
class InboundSms:
    kind: str  # "sms" | "subscription_confirmation" | "unsubscribe_confirmation"
    topic_arn: str
    notification_id: str = ""  # SNS's MessageId: the same on every redelivery
    origination: str = ""  # E.164 of who replied
    destination: str = ""
    keyword: str = ""  # the stop word, upper-case, when the reply is one
    subscribe_url: str | None = None

    @property
    def is_stop(self) -> bool:
        return bool(self.keyword)


def stop_keyword(body: str) -> str:
    """The reply's first word upper-cased when it is a stop word, else ""."""
    match = _FIRST_WORD.search(body)  # leading blanks and punctuation skipped: "  Stop!"
    if match is None:
        return ""
    word = match.group(0).casefold()
    return word.upper() if word in STOP_WORDS else ""


def _unsigned(body: bytes | str) -> bool:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False  # load_envelope names it
    return isinstance(data, dict) and not isinstance(data.get("Signature"), str)


def _message(raw: str) -> tuple[str, str, str]:
    try:
        data = json.loads(raw)
    except ValueError as err:
        raise SnsError("is not JSON", field="Message") from err
    if not isinstance(data, dict):
        raise SnsError("is not a JSON object", field="Message")
    origin, body = data.get("originationNumber"), data.get("messageBody")
    if not isinstance(origin, str) or not origin:
        raise SnsError("is missing", field="Message.originationNumber")
    if not isinstance(body, str):
        raise SnsError("is missing", field="Message.messageBody")
    try:
        phone = normalise_phone(origin)
    except ValueError as err:
        raise SnsError(str(err), field="Message.originationNumber") from err
    destination = data.get("destinationNumber")
    return phone, destination if isinstance(destination, str) else "", body


def parse_inbound(
    body: bytes | str,
    *,
    topic_arns: Collection[str],
    fetch_cert: CertFetcher,
    cert_url_allowed: Callable[[str], bool] | None = None,
) -> InboundSms:
    """Check and read one SNS POST body: known topic, URLs of SNS's shape, a signature that
    verifies; then the inbound SMS it carries."""
    if _unsigned(body):
        raise SnsError("is missing: the message is not signed", field="Signature", status=403)
    envelope = load_envelope(body)
    if envelope["TopicArn"] not in topic_arns:
        raise SnsError(
            f"topic {envelope['TopicArn']!r} is not configured", field="TopicArn", status=403
        )
    check_urls(envelope, cert_url_allowed=cert_url_allowed)
    try:
        verify_signature(envelope, fetch_cert)
    except SnsError as err:
        if err.field in {"Signature", "SignatureVersion"}:
            err.status = 403
        raise
    if envelope["Type"] != NOTIFICATION:
        confirming = envelope["Type"] == SUBSCRIPTION_CONFIRMATION
        return InboundSms(
            kind="subscription_confirmation" if confirming else "unsubscribe_confirmation",
            topic_arn=envelope["TopicArn"],
            subscribe_url=envelope["SubscribeURL"] if confirming else None,
        )
    phone, destination, text = _message(envelope["Message"])
    return InboundSms(
        kind="sms",
        topic_arn=envelope["TopicArn"],
        notification_id=envelope["MessageId"],
        origination=phone,
        destination=destination,
        keyword=stop_keyword(text),
    )
