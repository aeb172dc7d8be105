"""What went wrong with a send, in the sender's terms rather than the transport's.

Every transport raises only these (or lets a programming error through), so the sending code
decides from the class alone and never asks which transport is configured:

- `TransientSendError`: this recipient's message failed for now (a mailbox busy, greylisted for
  one address): try it again on a later pass, a bounded number of times.
- `ThrottledError` (a TransientSendError): "too fast" for the account as a whole: slow the whole
  send down with backoff (`retry_after` seconds when the provider said how long).
- `TransportUnavailableError` (a TransientSendError): the transport cannot take any message
  now (its storage is unwritable or full, its server unreachable or failing). Nothing is wrong
  with the message or the recipient: the send pauses with the reason and probes until the
  transport answers again, without counting the time against any recipient.
- `PermanentSendError`: this message will never be accepted (bad address, rejected content):
  record `code` and `reason` on the delivery and move on to the next recipient.
- `TransportPausedError`: the account or the sender identity is refused (suspended, paused,
  unverified MAIL FROM domain, wrong credentials, missing configuration set). Every further
  message would fail the same way, so the send must stop (trip its circuit) and tell people,
  not burn through the list marking each recipient failed. It subclasses PermanentSendError
  so code that only knows "retry or not" still does not retry it.

The mapping from SES error codes and SMTP replies lives here too, one function per transport.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Mapping
from typing import Any


class SendError(Exception):
    """Base of every classified send failure."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class TransientSendError(SendError):
    """Retry later; `retry_after` is the provider's hint in seconds, when it gave one."""

    def __init__(self, code: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(code, reason)
        self.retry_after = retry_after


class ThrottledError(TransientSendError):
    """Sending too fast (or over a quota): back off for longer than after a plain hiccup."""


class TransportUnavailableError(TransientSendError):
    """The transport as a whole cannot send now (storage, connection, provider outage): pause
    the send and probe; no recipient is to blame, so no recipient's attempts are used up."""


class PermanentSendError(SendError):
    """Never retry this message; `recipients` names the addresses refused, when known."""

    def __init__(self, code: str, reason: str, recipients: tuple[str, ...] = ()) -> None:
        super().__init__(code, reason)
        self.recipients = recipients


class TransportPausedError(PermanentSendError):
    """The account or sender is refused as a whole: stop the send and alert, do not go on."""


# SES -------------------------------------------------------------------------------------------

SES_THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "LimitExceededException",
        "MaxSendingRateExceeded",
    }
)
SES_TRANSIENT = frozenset(
    {
        "InternalFailure",
        "InternalServerError",
        "InternalServiceError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
# Refusals that concern the account, the sender identity or our configuration: the next
# message would be refused for the same reason. NotFoundException on send_email means the
# configuration set (or the identity) does not exist, which holds for every message alike.
SES_PAUSED = frozenset(
    {
        "AccountSuspendedException",
        "SendingPausedException",
        "MailFromDomainNotVerifiedException",
        "NotFoundException",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
        "ExpiredToken",
    }
)
# Everything else with a 4xx status (MessageRejected, BadRequestException for an invalid
# address or header, ...) is about this message: permanent.


def _retry_after(headers: Mapping[str, Any]) -> float | None:
    value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def classify_ses_error(err: Exception) -> Exception:
    """The SendError for a botocore exception; anything unrecognised is returned unchanged
    (a bug in our call should surface, not be retried)."""
    from botocore.exceptions import (  # type: ignore[import-untyped]
        ClientError,
        ConnectionError,
        HTTPClientError,
    )

    if isinstance(err, ConnectionError | HTTPClientError):
        return TransportUnavailableError("ses.connection", str(err))
    if not isinstance(err, ClientError):
        return err
    error = err.response.get("Error", {})
    meta = err.response.get("ResponseMetadata", {})
    code = str(error.get("Code", "Unknown"))
    reason = str(error.get("Message", "")) or code
    status = int(meta.get("HTTPStatusCode") or 0)
    retry_after = _retry_after(meta.get("HTTPHeaders", {}))
    if code in SES_THROTTLED or status == 429:
        return ThrottledError(f"ses.{code}", reason, retry_after)
    if code in SES_PAUSED:
        return TransportPausedError(f"ses.{code}", reason)
    if code in SES_TRANSIENT or status >= 500:
        return TransportUnavailableError(f"ses.{code}", reason, retry_after)
    return PermanentSendError(f"ses.{code}", reason)


# SMTP ------------------------------------------------------------------------------------------

_ENHANCED = re.compile(rb"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


def _text(message: bytes | str) -> str:
    raw = message if isinstance(message, bytes) else message.encode()
    return raw.decode("utf-8", "replace").strip()


def _smtp_code(code: int, message: bytes | str) -> str:
    raw = message if isinstance(message, bytes) else message.encode()
    enhanced = _ENHANCED.match(raw)
    return f"smtp.{code}" + (f".{b'.'.join(enhanced.groups()).decode()}" if enhanced else "")


def _throttle_reply(code: int, message: bytes | str) -> bool:
    """421 (service closing, try later) and the 4.7.x policy codes relays use for rate limits
    and greylisting."""
    raw = message if isinstance(message, bytes) else message.encode()
    enhanced = _ENHANCED.match(raw)
    return code == 421 or (enhanced is not None and enhanced.group(1, 2) == (b"4", b"7"))


def _by_reply(code: int, message: bytes | str, recipients: tuple[str, ...] = ()) -> Exception:
    name, reason = _smtp_code(code, message), _text(message)
    if 400 <= code < 500:
        if _throttle_reply(code, message):
            return ThrottledError(name, reason)
        return TransientSendError(name, reason)
    if 500 <= code < 600:
        return PermanentSendError(name, reason, recipients)
    return TransportUnavailableError(name, reason)  # -1 and other non-replies: the link broke


def _relay_wide(err: Exception) -> Exception:
    """A plain "later" said to the connection or the sender concerns every message."""
    if type(err) is TransientSendError:
        return TransportUnavailableError(err.code, err.reason)
    return err


def classify_smtp_error(err: Exception) -> Exception:
    """The SendError for an smtplib (or socket) exception; others are returned unchanged.

    The reply code decides (4xx transient, 5xx permanent) except where the refusal concerns
    every message: the sender address refused with 5xx, failed authentication, a relay that
    lacks STARTTLS or AUTH we are configured to use, or a certificate that does not verify
    pause the transport.
    """
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        refused = err.recipients
        rcpts = tuple(sorted(refused))
        replies = list(refused.values())
        soft = [(c, m) for c, m in replies if 400 <= c < 500]
        if soft:  # any recipient worth retrying: retry the message (the others fail again)
            return _by_reply(*soft[0])
        code, message = replies[0] if replies else (550, b"recipients refused")
        return _by_reply(code, message, rcpts)
    if isinstance(err, smtplib.SMTPSenderRefused):
        if 500 <= err.smtp_code < 600:
            return TransportPausedError(
                _smtp_code(err.smtp_code, err.smtp_error), _text(err.smtp_error)
            )
        return _relay_wide(_by_reply(err.smtp_code, err.smtp_error))
    if isinstance(err, smtplib.SMTPAuthenticationError):
        if 400 <= err.smtp_code < 500:
            return _by_reply(err.smtp_code, err.smtp_error)
        return TransportPausedError(
            _smtp_code(err.smtp_code, err.smtp_error), _text(err.smtp_error)
        )
    if isinstance(err, smtplib.SMTPNotSupportedError):
        return TransportPausedError("smtp.not_supported", str(err))
    if isinstance(err, smtplib.SMTPServerDisconnected):
        return TransportUnavailableError("smtp.disconnected", str(err) or "connection closed")
    if isinstance(err, smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        return _relay_wide(_by_reply(err.smtp_code, err.smtp_error))
    if isinstance(err, smtplib.SMTPResponseException):  # data errors
        return _by_reply(err.smtp_code, err.smtp_error)
    if isinstance(err, smtplib.SMTPException):  # checked before OSError, its base class
        return TransientSendError("smtp.error", str(err))
    if isinstance(err, ssl.SSLCertVerificationError):
        return TransportPausedError("smtp.tls_verify", str(err))
    if isinstance(err, OSError):  # refused, reset, timed out, name not resolved, TLS hiccup
        return TransportUnavailableError("smtp.connection", str(err) or type(err).__name__)
    return err
