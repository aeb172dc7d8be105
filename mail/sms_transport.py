"""Where SMS go: the embedded outbox (rows in the database, the default) or AWS SNS.

Both answer `send_sms(msg, *, tags=None) -> id` (mail.sms) and raise only the classes of
mail.errors, so the send path never asks which one is configured:

- PermanentSendError("opted_out"): the provider's opt-out list holds the number (someone replied
  STOP to the provider's own number, or opted out with the carrier); the send path suppresses it.
- PermanentSendError("invalid_number"): the provider refuses the number as such.
- ThrottledError: too fast for the account; TransportUnavailableError: the provider or the
  database cannot take anything now.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from content.sms_segments import measure
from core.settings import Settings, SmsTransportKind
from mail import tags as mail_tags
from mail.errors import (
    PermanentSendError,
    ThrottledError,
    TransportPausedError,
    TransportUnavailableError,
    classify_ses_error,
)
from mail.sms import INVALID_NUMBER, OPTED_OUT, SmsMessage, SmsTransport
from mail.tags import Tags
from models.outbox import OutboxSms

log = logging.getLogger(__name__)

OUTBOX_SMS_RATE = 1000.0
# An SNS account starts at 20 SMS/s per region (AWS quota "SMS transactions per second").
SNS_SMS_RATE = 20.0


class OutboxSmsTransport:
    """Writes each SMS as an OutboxSms row: a fresh checkout texts no one, and the portal's
    outbox SMS view shows what would have gone. Exactly once per message id: a message handed
    over again (a retried activity after a crash) returns the first id and writes nothing."""

    def __init__(self, engine: Engine, *, rate: float = OUTBOX_SMS_RATE) -> None:
        self.engine = engine
        self.rate = rate
        self.rate_key = "sms-outbox"

    def max_send_rate(self) -> float:
        return self.rate

    def send_sms(self, msg: SmsMessage, *, tags: Tags | None = None) -> str:
        checked = mail_tags.check(tags)
        mid = msg.message_id[:300]
        try:
            self._record(msg, mid, checked)
        except Exception as err:  # unreachable, locked, full: the message may pass later
            raise TransportUnavailableError("sms_outbox.record", str(err)) from err
        return mid

    def _known(self, session: Session, mid: str) -> bool:
        return (
            session.exec(select(OutboxSms.id).where(OutboxSms.message_id == mid)).first()
            is not None
        )

    def _record(self, msg: SmsMessage, mid: str, tags: dict[str, str]) -> None:
        size = measure(msg.body)
        with Session(self.engine) as session:
            if self._known(session, mid):
                return
            session.add(
                OutboxSms(
                    message_id=mid,
                    to=msg.to[:16],
                    sender_id=msg.sender_id[:16],
                    body=msg.body[:2000],
                    encoding=size.encoding,
                    segments=max(1, size.segments),
                    brand_id=mail_tags.int_tag(tags, mail_tags.BRAND),
                    partner_campaign_id=mail_tags.int_tag(tags, mail_tags.PARTNER_CAMPAIGN),
                    delivery_id=tags.get(mail_tags.DELIVERY),
                    is_test=tags.get(mail_tags.TEST) == "yes",
                )
            )
            try:
                session.commit()
            except IntegrityError:  # a concurrent hand-over of the same id won: that is fine
                session.rollback()
                if not self._known(session, mid):
                    raise


# SNS's own names for "too fast" (its Throttled error, and KMS behind an encrypted topic).
SNS_THROTTLED = frozenset({"Throttled", "ThrottledException", "KMSThrottling"})


def classify_sns_error(err: Exception) -> Exception:
    """The SendError for a botocore exception from SNS; unrecognised ones unchanged.

    SNS answers InvalidParameter for a number it cannot text (any other InvalidParameter,
    such as a message too long, is about this message too: permanent). Throttling, 5xx and
    connection errors, and account-wide refusals are classified as for SES (same codes)."""
    from botocore.exceptions import ClientError  # type: ignore[import-untyped]

    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", "")) or code
        if code in {"InvalidParameter", "InvalidParameterValue"} and "phone" in message.lower():
            return PermanentSendError(INVALID_NUMBER, message)
        if code in {"AuthorizationError", "OptedOut"} and "opt" in message.lower():
            return PermanentSendError(OPTED_OUT, message)
        if code == "AuthorizationError":
            return TransportPausedError(f"sns.{code}", message)
        if code in SNS_THROTTLED:
            meta = err.response.get("ResponseMetadata", {})
            hint = meta.get("HTTPHeaders", {}).get("retry-after")
            try:
                retry_after = float(hint) if hint is not None else None
            except ValueError:
                retry_after = None
            return ThrottledError(f"sns.{code}", message, retry_after)
    classified = classify_ses_error(err)
    return classified if classified is err else _renamed(classified)


def _renamed(err: Exception) -> Exception:
    """classify_ses_error names codes "ses.*"; these came from SNS."""
    code = getattr(err, "code", "")
    if isinstance(code, str) and code.startswith("ses."):
        err.code = "sns." + code[4:]  # type: ignore[attr-defined]
        err.args = (f"{err.code}: {getattr(err, 'reason', '')}",)  # type: ignore[attr-defined]
    return err


class SnsSmsTransport:
    """AWS SNS `Publish` straight to a phone number.

    Asks `CheckIfPhoneNumberIsOptedOut` first: SNS accepts a message to an opted-out number
    and silently drops it, so without the question a STOP sent to the provider would never
    reach the brand's list. boto3 ships no type information, so the client is Any."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._client = client if client is not None else sns_client(settings)
        self.sms_type = settings.sms_type.value
        self.rate = settings.sms_rate_per_second or SNS_SMS_RATE
        region = getattr(getattr(self._client, "meta", None), "region_name", None) or "default"
        self.rate_key = f"sns-sms:{region}"

    def max_send_rate(self) -> float:
        return self.rate

    def _attributes(self, msg: SmsMessage) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": self.sms_type}
        }
        if msg.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {
                "DataType": "String",
                "StringValue": msg.sender_id,
            }
        return attributes

    def send_sms(self, msg: SmsMessage, *, tags: Tags | None = None) -> str:
        mail_tags.check(tags)  # SNS has no message tags for SMS; refuse malformed ones alike
        try:
            answer = self._client.check_if_phone_number_is_opted_out(phoneNumber=msg.to)
            if answer.get("isOptedOut"):
                raise PermanentSendError(OPTED_OUT, "the number is on the provider's opt-out list")
            response = self._client.publish(
                PhoneNumber=msg.to,
                Message=msg.body,
                MessageAttributes=self._attributes(msg),
            )
        except PermanentSendError:
            raise
        except Exception as err:
            raise classify_sns_error(err) from err
        return str(response["MessageId"])


def sns_client(settings: Settings) -> Any:
    import boto3  # type: ignore[import-untyped]  # only SNS deployments pay the import
    from botocore.config import Config  # type: ignore[import-untyped]

    secret = settings.aws_secret_access_key
    return boto3.session.Session().client(
        "sns",
        config=Config(max_pool_connections=max(10, settings.send_concurrency)),
        region_name=settings.sms_sns_region or settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
    )


def make_sms_transport(settings: Settings, engine: Engine | None = None) -> SmsTransport:
    """The configured SMS transport. The outbox needs the engine (its messages are rows)."""
    if settings.sms_transport == SmsTransportKind.sns:
        return SnsSmsTransport(settings)
    if engine is None:
        from core.db import make_engine

        engine = make_engine(settings.resolved_database_url)
    return OutboxSmsTransport(engine, rate=settings.sms_rate_per_second or OUTBOX_SMS_RATE)
