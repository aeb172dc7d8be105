"""What an SMS is and what every SMS transport answers, whichever is configured.

The email transports' counterpart (mail.transport): `send_sms(msg, tags=...) -> id` raising only
the classes of mail.errors (PermanentSendError with code "opted_out" or "invalid_number",
ThrottledError, TransportUnavailableError), `rate_key` and `max_send_rate()` for the shared
rate limit (mail.rate_limit). The transports themselves live in mail.sms_transport.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mail.tags import Tags

# Permanent refusals a send records on the row and acts on (services.sms.suppression).
OPTED_OUT = "opted_out"
INVALID_NUMBER = "invalid_number"


@dataclass(frozen=True)
class SmsMessage:
    to: str  # E.164 (models.phones.normalise_phone)
    body: str  # plain text, already rendered and shortened
    message_id: str  # derived from the delivery row: the same row always has the same id
    sender_id: str = ""  # alphanumeric sender id where the country allows it; "" the default


class SmsSender(Protocol):
    def send_sms(self, msg: SmsMessage, *, tags: Tags | None = None) -> str:
        """Hand the message over; the id the provider knows it by. Raises mail.errors."""
        ...


class SmsTransport(SmsSender, Protocol):
    rate_key: str

    def max_send_rate(self) -> float:
        """Messages per second this transport may send, across all workers."""
        ...
