"""Per-recipient unsubscribe links and the RFC 8058 one-click headers.

The token is the credential: HMAC-SHA256 (core.signing, purpose UNSUBSCRIBE) over brand,
partner, contact id and an optional delivery id, truncated to 128 bits; only its canonical text
is accepted. It carries the contact's id, not
the address, so the URL reveals nothing to the logs it passes through.

Tokens do not expire: a recipient may click a link in a mail that is years old, RFC 8058
receivers may POST long after delivery, and laws require that an opt-out keeps working. The
link can only ever stop mail to its own recipient, so a leaked link costs nothing but that.
Rotating SECRET_KEY invalidates every link already sent; keep the key stable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session

from core import signing
from core.settings import Settings
from models.contacts import Contact, SuppressionReason
from models.delivery import Delivery
from models.org import Partner
from services.engagement import events
from services.suppression import suppress

_VERSION = "1"
_DELIVERY = re.compile(r"^[A-Za-z0-9_-]{0,64}$")
_MAX_TOKEN = 300


@dataclass(frozen=True)
class UnsubscribeToken:
    brand_id: int
    partner_id: int
    contact_id: int
    delivery_id: str = ""


def make_token(settings: Settings, token: UnsubscribeToken) -> str:
    if not _DELIVERY.fullmatch(token.delivery_id):
        raise ValueError("delivery_id must be at most 64 letters, digits, - or _")
    payload = "|".join(
        (_VERSION, str(token.brand_id), str(token.partner_id), str(token.contact_id))
        + ((token.delivery_id,) if token.delivery_id else ())
    ).encode()
    return signing.sign(settings.secret_key.get_secret_value(), signing.UNSUBSCRIBE, payload)


def read_token(settings: Settings, raw: str) -> UnsubscribeToken | None:
    """The token's content, or None for anything malformed, altered or signed with another key."""
    payload = signing.verify(
        settings.secret_key.get_secret_value(), signing.UNSUBSCRIBE, raw, max_len=_MAX_TOKEN
    )
    if payload is None:
        return None
    parts = payload.decode("ascii", "replace").split("|")
    if parts[0] != _VERSION or len(parts) not in (4, 5):
        return None
    try:
        brand_id, partner_id, contact_id = (int(p) for p in parts[1:4])
    except ValueError:
        return None
    return UnsubscribeToken(brand_id, partner_id, contact_id, parts[4] if len(parts) == 5 else "")


def unsubscribe_url(
    settings: Settings, brand_id: int, partner_id: int, contact_id: int, delivery_id: str = ""
) -> str:
    """The absolute link for the message body and the List-Unsubscribe header.

    PUBLIC_BASE_URL must be https in production: mailbox providers only offer one-click
    unsubscribe for https URLs (RFC 8058)."""
    token = make_token(settings, UnsubscribeToken(brand_id, partner_id, contact_id, delivery_id))
    return f"{settings.public_base_url.rstrip('/')}/u/{token}"


def one_click_url(url: str) -> str:
    """The RFC 8058 POST target for an unsubscribe_url (same token, /one-click)."""
    return f"{url}/one-click"


def list_unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 8058 headers for a message; `url` is what unsubscribe_url returned. The header names
    the one-click endpoint, which unsubscribes on POST without a page in between."""
    return {
        "List-Unsubscribe": f"<{one_click_url(url)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


@dataclass(frozen=True)
class Recipient:
    token: UnsubscribeToken
    contact: Contact | None  # None once erased: nothing left to unsubscribe
    partner: Partner


def resolve(session: Session, settings: Settings, raw: str) -> Recipient | None:
    """What a link names, or None when it must be treated as unknown."""
    token = read_token(settings, raw)
    if token is None:
        return None
    partner = session.get(Partner, token.partner_id)
    if partner is None or partner.brand_id != token.brand_id:
        return None
    contact = session.get(Contact, token.contact_id)
    if contact is not None and (
        contact.partner_id != partner.id or contact.brand_id != token.brand_id
    ):
        return None
    return Recipient(token, contact, partner)


def unsubscribe(session: Session, recipient: Recipient, via: str) -> None:
    """Suppress the recipient's address for the whole brand (idempotent)."""
    if recipient.contact is None:
        return
    detail = f"partner {recipient.partner.id}"
    if recipient.token.delivery_id:
        detail += f", delivery {recipient.token.delivery_id}"
    suppress(
        session,
        recipient.token.brand_id,
        recipient.contact.email,
        SuppressionReason.unsubscribed,
        detail,
        source=via,
        partner_id=recipient.partner.id,
    )
    _record_event(session, recipient, via)


def _record_event(session: Session, recipient: Recipient, via: str) -> None:
    """The event table's "unsubscribed", once per delivery, when the link names a delivery of
    this partner (links in sent mail do; older ones without an id add no event)."""
    raw = recipient.token.delivery_id
    row = session.get(Delivery, int(raw)) if raw.isdigit() else None
    if row is None or row.partner_id != recipient.partner.id:
        return
    key = f"unsubscribed:{row.id}"
    events.write(
        session, [events.for_delivery(row, "unsubscribed", "unsubscribe", key, detail=via)]
    )
