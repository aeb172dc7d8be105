"""Outgoing email: composing safe messages and handing them to the configured transport."""

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
    "SesTransport",
    "SmtpTransport",
    "compose",
    "make_transport",
    "message_id",
]
