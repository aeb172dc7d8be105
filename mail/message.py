"""Composing one email: plain text plus an HTML alternative, with a Message-ID and a Date.

Header values are refused, not cleaned, when they contain line breaks: a CR/LF in a subject or
address is how a caller's input would add headers (Bcc:) or a body of its own, and silently
folding it away would hide the bug that let it through. Callers that take free text into a
subject (services.notifications) collapse whitespace before they get here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from models.locales import normalise_email

# CR and LF end a header line; the others are line boundaries to str.splitlines() and NUL is
# never valid in a header.
_FORBIDDEN = frozenset("\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_RESERVED = frozenset(
    {"from", "to", "cc", "bcc", "subject", "message-id", "date", "mime-version", "content-type"}
)


class HeaderInjection(ValueError):
    """A header value (subject, address, extra header) contains a line break."""


def _clean(name: str, value: str) -> str:
    if any(ch in _FORBIDDEN for ch in value):
        raise HeaderInjection(f"{name}: line breaks are not allowed in a header")
    return value


def parse_address(value: str | Address, name: str = "address") -> Address:
    """'Name <a@b.example>', 'a@b.example' or an Address (names with commas or quotes need
    no quoting then) -> Address; refuses line breaks and what the one address rule
    (models.locales.normalise_email, also applied at intake) refuses."""
    if isinstance(value, Address):
        display, addr = _clean(name, value.display_name), _clean(name, value.addr_spec)
    else:
        display, addr = parseaddr(_clean(name, value))
    try:
        return Address(display_name=display, addr_spec=normalise_email(addr))
    except (ValueError, IndexError) as err:
        raise ValueError(f"{name}: {value!r} is not an email address ({err})") from err


def compose(
    *,
    sender: str | Address,
    to: Sequence[str | Address],
    subject: str,
    text: str,
    html: str | None = None,
    reply_to: str | Address | None = None,
    headers: Mapping[str, str] | None = None,
    now: datetime | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """A ready-to-send message; `html`, when given, is an alternative to `text` (clients that
    cannot show HTML, and spam filters, read the text part). `message_id` is for messages whose
    id must be stable across retries (deliveries); by default a fresh one is made."""
    if not to:
        raise ValueError("to: at least one recipient")
    from_addr = parse_address(sender, "from")
    msg = EmailMessage()
    msg["From"] = from_addr
    msg["To"] = tuple(parse_address(a, "to") for a in to)
    if reply_to:
        msg["Reply-To"] = parse_address(reply_to, "reply-to")
    msg["Subject"] = _clean("subject", subject)
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = _clean("message_id", message_id or make_msgid(domain=from_addr.domain))
    for name, value in (headers or {}).items():
        _clean("header name", name)
        if not name or ":" in name or name.lower() in _RESERVED:
            raise ValueError(f"header {name!r} cannot be set here")
        msg[name] = _clean(name, value)
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


def message_id(msg: EmailMessage) -> str:
    value = msg["Message-ID"]
    if not value:
        raise ValueError("message has no Message-ID: build it with mail.compose")
    return str(value).strip()
