"""Outgoing email: composing safe messages, handing them to the configured transport, and
the errors, rate limit and feedback that go with sending."""

from mail.errors import (
    PermanentSendError,
    SendError,
    ThrottledError,
    TransientSendError,
    TransportPausedError,
    TransportUnavailableError,
)
from mail.message import HeaderInjection, compose, message_id
from mail.transport import (
    MailTransport,
    OutboxTransport,
    SesTransport,
    SmtpTransport,
    make_transport,
)

__all__ = [
    "HeaderInjection",
    "MailTransport",
    "OutboxTransport",
    "PermanentSendError",
    "SendError",
    "SesTransport",
    "SmtpTransport",
    "ThrottledError",
    "TransientSendError",
    "TransportPausedError",
    "TransportUnavailableError",
    "compose",
    "make_transport",
    "message_id",
]
