"""Send errors: SES codes and SMTP replies map to the classes the sender acts on."""

from __future__ import annotations

import smtplib
import socket
import ssl

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from mail.errors import (
    PermanentSendError,
    ThrottledError,
    TransientSendError,
    TransportPausedError,
    TransportUnavailableError,
    classify_ses_error,
    classify_smtp_error,
)


def _ses(code: str, status: int = 400, headers: dict[str, str] | None = None) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} happened"},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers or {}},
        },
        "SendEmail",
    )


@pytest.mark.parametrize(
    "code, status, cls",
    [
        ("TooManyRequestsException", 429, ThrottledError),
        ("Throttling", 400, ThrottledError),
        ("LimitExceededException", 400, ThrottledError),
        ("SomethingNew", 429, ThrottledError),
        ("InternalFailure", 500, TransportUnavailableError),
        ("ServiceUnavailable", 503, TransportUnavailableError),
        ("MessageRejected", 400, PermanentSendError),
        ("BadRequestException", 400, PermanentSendError),
        ("AccountSuspendedException", 400, TransportPausedError),
        ("SendingPausedException", 400, TransportPausedError),
        ("MailFromDomainNotVerifiedException", 400, TransportPausedError),
        ("NotFoundException", 404, TransportPausedError),
        ("AccessDeniedException", 403, TransportPausedError),
    ],
)
def test_ses_codes(code: str, status: int, cls: type[Exception]) -> None:
    got = classify_ses_error(_ses(code, status))
    assert type(got) is cls
    assert isinstance(got, TransientSendError | PermanentSendError)
    assert got.code == f"ses.{code}" and got.reason == f"{code} happened"


def test_ses_retry_after_connection_errors_and_bugs() -> None:
    throttled = classify_ses_error(_ses("Throttling", 400, {"retry-after": "7"}))
    assert isinstance(throttled, ThrottledError) and throttled.retry_after == 7.0
    plain = classify_ses_error(_ses("Throttling"))
    assert isinstance(plain, ThrottledError) and plain.retry_after is None
    down = classify_ses_error(EndpointConnectionError(endpoint_url="https://ses.example"))
    assert type(down) is TransportUnavailableError and down.code == "ses.connection"
    bug = TypeError("bad kwarg")
    assert classify_ses_error(bug) is bug  # not a send failure: surfaces unchanged


def test_paused_is_permanent_and_throttled_is_transient() -> None:
    """Code that only asks "retry or not?" still gets the right answer."""
    assert issubclass(TransportPausedError, PermanentSendError)
    assert issubclass(ThrottledError, TransientSendError)
    assert issubclass(TransportUnavailableError, TransientSendError)
    assert not issubclass(PermanentSendError, TransientSendError)


def _refused(*replies: tuple[str, int, bytes]) -> smtplib.SMTPRecipientsRefused:
    return smtplib.SMTPRecipientsRefused({rcpt: (code, msg) for rcpt, code, msg in replies})


@pytest.mark.parametrize(
    "err, cls, code",
    [
        (
            _refused(("a@example.com", 550, b"5.1.1 User unknown")),
            PermanentSendError,
            "smtp.550.5.1.1",
        ),
        (
            _refused(("a@example.com", 452, b"4.2.2 Mailbox full")),
            TransientSendError,
            "smtp.452.4.2.2",
        ),
        (
            _refused(("a@example.com", 550, b"no"), ("b@example.com", 451, b"4.7.1 Greylisted")),
            ThrottledError,
            "smtp.451.4.7.1",
        ),
        (smtplib.SMTPDataError(554, b"5.7.1 Message rejected as spam"), PermanentSendError, None),
        (smtplib.SMTPDataError(451, b"4.3.0 Try later"), TransientSendError, None),
        (smtplib.SMTPConnectError(421, b"4.7.0 Too many connections"), ThrottledError, None),
        (
            smtplib.SMTPSenderRefused(553, b"5.7.1 Sender not allowed", "x@y"),
            TransportPausedError,
            None,
        ),
        (smtplib.SMTPSenderRefused(451, b"4.3.0 Later", "x@y"), TransportUnavailableError, None),
        (
            smtplib.SMTPConnectError(450, b"4.3.2 System not accepting"),
            TransportUnavailableError,
            None,
        ),
        (
            smtplib.SMTPAuthenticationError(535, b"5.7.8 Bad credentials"),
            TransportPausedError,
            None,
        ),
        (smtplib.SMTPAuthenticationError(454, b"4.7.0 Temporary"), ThrottledError, None),
        (
            smtplib.SMTPNotSupportedError("STARTTLS extension not supported"),
            TransportPausedError,
            None,
        ),
        (
            smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
            TransportUnavailableError,
            None,
        ),
        (ConnectionRefusedError(111, "Connection refused"), TransportUnavailableError, None),
        (TimeoutError("timed out"), TransportUnavailableError, None),
        (socket.gaierror(-2, "Name or service not known"), TransportUnavailableError, None),
        (ssl.SSLCertVerificationError("certificate verify failed"), TransportPausedError, None),
    ],
)
def test_smtp_replies(err: Exception, cls: type[Exception], code: str | None) -> None:
    got = classify_smtp_error(err)
    assert type(got) is cls, got
    if code is not None:
        assert isinstance(got, TransientSendError | PermanentSendError) and got.code == code


def test_smtp_recipient_refusal_names_the_recipients() -> None:
    got = classify_smtp_error(
        _refused(("b@example.com", 550, b"5.1.1 no"), ("a@example.com", 553, b"5.1.3 bad"))
    )
    assert isinstance(got, PermanentSendError)
    assert got.recipients == ("a@example.com", "b@example.com")
    bug = KeyError("x")
    assert classify_smtp_error(bug) is bug
