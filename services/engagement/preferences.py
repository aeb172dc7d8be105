"""The preference centre: from a link in every email, a contact sees what the club holds about
them, changes their language, picks email or SMS (SMS only with a number) or withdraws SMS
consent, unsubscribes from the club or from the whole brand, or has their
data erased. No sign-in: the signed link is the credential.

The token (core.signing, purpose PREFERENCES, 128-bit MAC) binds brand, partner and contact, so
it opens exactly one contact of one partner: a token whose contact belongs to another partner or
brand is treated as unknown. Like unsubscribe links, tokens do not expire (an old email must
still let its reader object) and only ever act on their own contact.

Every change is appended to the brand's audit trail (actor "contact:<id>", in the change's
transaction) with ids and values only, never the address or name: the trail cannot be erased.
Unsubscribing from the club denies consent on the partner's contact (audiences send to
granted consent only); unsubscribing from the brand adds the address to the brand's
suppression list; erasure uses services.contacts.erase_contact, the one place that forgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from core import signing
from core.errors import FieldError
from core.settings import Settings
from models.base import utcnow
from models.contacts import Channel, ConsentStatus, Contact, SuppressionReason
from models.org import Brand, Partner
from services import audit, suppression
from services.contacts import erase_contact
from services.sms.suppression import is_phone_suppressed

_VERSION = "1"
_MAX_TOKEN = 200
LANGUAGES: dict[str, str] = {"en": "English", "de": "Deutsch", "nl": "Nederlands"}
SOURCE = "preference centre"


def make_token(settings: Settings, brand_id: int, partner_id: int, contact_id: int) -> str:
    payload = f"{_VERSION}|{brand_id}|{partner_id}|{contact_id}".encode()
    return signing.sign(settings.secret_key.get_secret_value(), signing.PREFERENCES, payload)


def read_token(settings: Settings, raw: str) -> tuple[int, int, int] | None:
    """(brand, partner, contact) of a valid token; None for anything altered or malformed."""
    payload = signing.verify(
        settings.secret_key.get_secret_value(), signing.PREFERENCES, raw, max_len=_MAX_TOKEN
    )
    if payload is None:
        return None
    parts = payload.decode("ascii", "replace").split("|")
    if len(parts) != 4 or parts[0] != _VERSION or not all(p.isdigit() for p in parts[1:]):
        return None
    return int(parts[1]), int(parts[2]), int(parts[3])


def preferences_url(settings: Settings, brand_id: int, partner_id: int, contact_id: int) -> str:
    token = make_token(settings, brand_id, partner_id, contact_id)
    return f"{settings.public_base_url.rstrip('/')}/p/{token}"


def sample_preferences_url(settings: Settings) -> str:
    """What previews, test sends and redrawn copies link to: no one's preferences."""
    return f"{settings.public_base_url.rstrip('/')}/p/preview"


@dataclass(frozen=True)
class Holder:
    """Whose preferences a link opens; contact None once erased."""

    brand: Brand
    partner: Partner
    contact_id: int
    contact: Contact | None


def resolve(session: Session, settings: Settings, raw: str) -> Holder | None:
    found = read_token(settings, raw)
    if found is None:
        return None
    brand_id, partner_id, contact_id = found
    brand = session.get(Brand, brand_id)
    partner = session.get(Partner, partner_id)
    if brand is None or partner is None or partner.brand_id != brand_id:
        return None
    contact = session.get(Contact, contact_id)
    if contact is not None and (contact.partner_id != partner_id or contact.brand_id != brand_id):
        return None
    return Holder(brand, partner, contact_id, contact)


def languages(holder: Holder) -> dict[str, str]:
    """The languages offered: English, German, Dutch and the club's own."""
    offered = dict(LANGUAGES)
    own = holder.partner.locale.split("-")[0].lower()
    if own and own not in offered:
        offered[own] = own
    return offered


def what_we_hold(session: Session, holder: Holder) -> dict[str, Any]:
    """Everything the club stores about the contact, for the page."""
    contact = holder.contact
    assert contact is not None
    return {
        "name": contact.name,
        "email": contact.email,
        "language": contact.locale,
        "consent": contact.consent_status,
        "consent_source": contact.consent_source,
        "consent_at": contact.consent_at,
        "tags": list(contact.tags),
        "attributes": dict(contact.attributes),
        "suppressed": suppression.is_suppressed(session, holder.brand.id or 0, contact.email),
        "phone": contact.phone or "",
        "sms_consent": contact.sms_consent_status,
        "channel": contact.channel,
        "sms_suppressed": bool(contact.phone)
        and is_phone_suppressed(session, holder.brand.id or 0, contact.phone or ""),
    }


def channels(holder: Holder) -> dict[str, str]:
    """The channels offered: SMS only to a contact with a number."""
    offered = {Channel.email.value: "Email"}
    if holder.contact is not None and holder.contact.phone:
        offered[Channel.sms.value] = "SMS"
    return offered


def _audit(
    session: Session,
    holder: Holder,
    action: str,
    request_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    audit.append_in(
        session,
        audit.NewEvent(
            brand_id=holder.brand.id or 0,
            region_id=holder.partner.region_id,
            partner_id=holder.partner.id,
            actor=f"contact:{holder.contact_id}",
            action=action,
            entity_type="contact",
            entity_id=str(holder.contact_id),
            event_key=f"preferences:{request_id}:{action}:{holder.contact_id}",
            before=before,
            after=after,
            request_id=request_id,
        ),
    )


def set_language(session: Session, holder: Holder, language: str, request_id: str) -> None:
    contact = holder.contact
    assert contact is not None
    if language not in languages(holder):
        raise FieldError("language", f"must be one of {', '.join(languages(holder))}")
    before = contact.locale
    if before == language:
        return
    contact.locale = language
    contact.updated_at = utcnow()
    session.add(contact)
    _audit(
        session,
        holder,
        "preferences.language",
        request_id,
        {"locale": before},
        {"locale": language},
    )


def set_channel(session: Session, holder: Holder, channel: str, request_id: str) -> None:
    """The contact picks how they hear from the club. Choosing SMS here is their own consent
    to SMS (given on this page: the source says so); it does not lift a STOP on the number."""
    contact = holder.contact
    assert contact is not None
    if channel not in channels(holder):
        raise FieldError("channel", f"must be one of {', '.join(channels(holder))}")
    before = {"channel": contact.channel, "sms_consent_status": contact.sms_consent_status}
    contact.channel = channel
    if channel == Channel.sms.value and contact.sms_consent_status != "granted":
        contact.sms_consent_status = ConsentStatus.granted.value
        contact.sms_consent_source = SOURCE
        contact.sms_consent_at = utcnow()
    after = {"channel": contact.channel, "sms_consent_status": contact.sms_consent_status}
    if after == before:
        return
    contact.updated_at = utcnow()
    session.add(contact)
    _audit(session, holder, "preferences.channel", request_id, before, after)


def withdraw_sms(session: Session, holder: Holder, request_id: str) -> None:
    """No more SMS from this club: SMS consent denied and email the channel again."""
    contact = holder.contact
    assert contact is not None
    before = {"channel": contact.channel, "sms_consent_status": contact.sms_consent_status}
    if before == {"channel": Channel.email.value, "sms_consent_status": "denied"}:
        return
    contact.channel = Channel.email.value
    contact.sms_consent_status = ConsentStatus.denied.value
    contact.sms_consent_source = SOURCE
    contact.sms_consent_at = utcnow()
    contact.updated_at = contact.sms_consent_at
    session.add(contact)
    after = {"channel": contact.channel, "sms_consent_status": contact.sms_consent_status}
    _audit(session, holder, "preferences.sms_withdrawn", request_id, before, after)


def leave_club(session: Session, holder: Holder, request_id: str) -> None:
    """No more mail from this club: consent denied on the partner's contact."""
    contact = holder.contact
    assert contact is not None
    before = contact.consent_status
    if before == ConsentStatus.denied.value:
        return
    contact.consent_status = ConsentStatus.denied.value
    contact.consent_source = SOURCE
    contact.consent_at = utcnow()
    contact.updated_at = contact.consent_at
    session.add(contact)
    _audit(
        session,
        holder,
        "preferences.unsubscribe_club",
        request_id,
        {"consent_status": before},
        {"consent_status": contact.consent_status},
    )


def leave_brand(session: Session, holder: Holder, request_id: str) -> None:
    """No more mail from any club of the brand: the address on the brand's suppression list."""
    contact = holder.contact
    assert contact is not None
    brand_id = holder.brand.id or 0
    if suppression.is_suppressed(session, brand_id, contact.email):
        return
    suppression.suppress(
        session,
        brand_id,
        contact.email,
        SuppressionReason.unsubscribed,
        f"partner {holder.partner.id}, {SOURCE}",
        source=SOURCE,
        partner_id=holder.partner.id,
    )
    _audit(
        session,
        holder,
        "preferences.unsubscribe_brand",
        request_id,
        {"suppressed": False},
        {"suppressed": True},
    )


def erase(session: Session, holder: Holder, request_id: str) -> None:
    """The contact asked to be forgotten: erased at once, as a partner's erasure does."""
    contact = holder.contact
    assert contact is not None
    erase_contact(session, contact)
    _audit(
        session, holder, "preferences.erased", request_id, {"contact_id": holder.contact_id}, None
    )
