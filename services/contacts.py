"""A partner's contacts: access, single-contact CRUD, summary counts, sharing and erasure.

Audit events about contacts carry ids and consent facts, never addresses or names: the audit
trail is append-only and hash-chained, so personal data written there could not be erased.
CSV import and export live in services.contact_csv.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.errors import Conflict, FieldError, Forbidden, NotFound
from core.policy import (
    Permission,
    Principal,
    can_see,
    may_see_contact_data,
    may_see_contacts,
    may_share_contacts,
)
from core.said import said
from models.base import utcnow
from models.contact_schemas import (
    ContactCreate,
    ContactFields,
    ContactRead,
    ContactSummary,
    ContactUpdate,
)
from models.contacts import Channel, ConsentStatus, Contact, ErasureCount, Suppression
from models.delivery import Delivery
from models.locales import normalise_email, normalise_locale
from models.org import Partner
from models.outbox import OutboxMessage, OutboxSms
from models.phones import normalise_phone
from services import audit
from services.access import target_of
from services.org import Actor, record
from services.paging import Key, Listing, Paged, PageRequest, fetch
from services.sms.suppression import suppressed_phones
from services.suppression import suppressed_among


def contact_partner(
    session: Session, principal: Principal, partner_id: int, permission: Permission
) -> Partner:
    """The partner whose contacts the principal acts on; 404 outside its reach, 403 for rows
    it may count but not see (HQ without a share, region managers)."""
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise NotFound("partner", partner_id)
    target = target_of(partner)
    if not can_see(principal, target, Permission.org_read):
        raise NotFound("partner", partner_id)
    if permission == Permission.contact_count:
        if not can_see(principal, target, permission):
            raise Forbidden(f"Your roles do not allow {permission.value} on partner {partner_id}")
        return partner
    shared = partner.contacts_shared_with_brand
    allowed = (
        may_see_contact_data(principal, target, shared=shared)
        if permission == Permission.contact_read
        else may_see_contacts(principal, permission, target, shared=shared)
    )
    if not allowed:
        raise Forbidden(
            f"The contacts of partner {partner_id} are the partner's own; your roles see their "
            "counts only (GET /api/v1/partners/{id}/contacts/summary) unless the partner shares "
            "them"
        )
    return partner


def load_contact(session: Session, partner: Partner, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None or contact.partner_id != partner.id:
        raise NotFound("contact", contact_id)
    return contact


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def check_consent(status: str, source: str) -> str | None:
    """The rule for a grant: where it was given must be on record (proof of consent)."""
    if status == ConsentStatus.granted.value and not source.strip():
        return said("consent granted without consent_source (where and how it was given)")
    return None


def _apply(contact: Contact, body: ContactFields, partner: Partner) -> None:
    data = body.model_dump(exclude_unset=True)
    if "email" in data:
        if data["email"] is None:
            raise FieldError("email", "may not be null")
        try:
            contact.email = normalise_email(data["email"])
        except ValueError as err:
            raise FieldError("email", str(err)) from err
    if data.get("locale") is not None:
        try:
            contact.locale = normalise_locale(data["locale"]) if data["locale"] else partner.locale
        except ValueError as err:
            raise FieldError("locale", str(err)) from err
    for name in ("name", "consent_status", "consent_source", "tags", "attributes"):
        if data.get(name) is not None:
            setattr(contact, name, data[name])
    if "consent_at" in data:
        contact.consent_at = _utc(data["consent_at"])
    problem = check_consent(contact.consent_status, contact.consent_source)
    if problem:
        raise FieldError("consent_source", problem)
    _apply_sms(contact, data, partner)


def phone_of(raw: str, partner: Partner) -> str | None:
    """The number as stored: E.164, a national number read in the partner's country; None
    for blank. ValueError says what is wrong."""
    if not raw.strip():
        return None
    return normalise_phone(raw, partner.country or None)


def check_channel(channel: str, phone: str | None) -> str | None:
    if channel == Channel.sms.value and not phone:
        return said("sms needs a phone number")
    return None


def _apply_sms(contact: Contact, data: dict[str, Any], partner: Partner) -> None:
    """Phone, SMS consent and channel: the number validated and normalised, a grant with its
    source (as for email), and "sms" only for a contact with a number."""
    if "phone" in data:
        try:
            contact.phone = phone_of(data["phone"] or "", partner)
        except ValueError as err:
            raise FieldError("phone", str(err)) from err
    if data.get("sms_consent_source") is not None:
        contact.sms_consent_source = data["sms_consent_source"]
    status = data.get("sms_consent_status")
    if status is not None and status != contact.sms_consent_status:
        contact.sms_consent_status = status
        contact.sms_consent_at = utcnow()
    if data.get("channel") is not None:
        contact.channel = data["channel"]
    problem = check_consent(contact.sms_consent_status, contact.sms_consent_source)
    if problem:
        raise FieldError(
            "sms_consent_source", problem.replace("consent_source", "sms_consent_source")
        )
    problem = check_channel(contact.channel, contact.phone)
    if problem:
        raise FieldError("channel", problem)


def _fact(contact: Contact) -> dict[str, Any]:
    return {
        "contact_id": contact.id,
        "consent_status": contact.consent_status,
        "sms_consent_status": contact.sms_consent_status,
        "channel": contact.channel,
        "has_phone": bool(contact.phone),
    }


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    contact_id: int | None,
    partner: Partner,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """An event about a contact, naming it by id only."""
    audit.append_in(
        session,
        audit.NewEvent(
            brand_id=partner.brand_id,
            region_id=partner.region_id,
            partner_id=partner.id,
            actor=str(actor.principal.user_id),
            action=action,
            entity_type="contact",
            entity_id=str(contact_id),
            event_key=f"api:{actor.request_id}:{action}:contact:{contact_id}",
            before=before,
            after=after,
            request_id=actor.request_id,
        ),
    )


def _save(session: Session, contact: Contact) -> None:
    try:
        with session.begin_nested():
            session.add(contact)
    except IntegrityError as err:
        raise Conflict(f"a contact with email {contact.email} exists for this partner") from err


def create_contact(
    session: Session, actor: Actor, partner: Partner, body: ContactCreate
) -> Contact:
    assert partner.id is not None
    contact = Contact(brand_id=partner.brand_id, partner_id=partner.id, email="")
    contact.locale = partner.locale
    _apply(contact, body, partner)
    _save(session, contact)
    _audit(session, actor, "contact.created", contact.id, partner, None, _fact(contact))
    return contact


def update_contact(
    session: Session, actor: Actor, partner: Partner, contact: Contact, body: ContactUpdate
) -> Contact:
    before = _fact(contact)
    _apply(contact, body, partner)
    contact.updated_at = utcnow()
    _save(session, contact)
    _audit(session, actor, "contact.updated", contact.id, partner, before, _fact(contact))
    return contact


CONTACTS = Listing(
    "contacts",
    col(Contact.id),
    {
        "id": Key(col(Contact.id), "int"),
        "email": Key(col(Contact.email), "str"),
        "name": Key(col(Contact.name), "str"),
        "created_at": Key(col(Contact.created_at), "datetime"),
        "updated_at": Key(col(Contact.updated_at), "datetime"),
    },
    default="id",
)


def phone_digits(needle: str) -> str | None:
    """The part of a typed number to look for in stored E.164 numbers: its digits without
    leading zeros (a national "06 1234" finds "+31612345678"); None when the search is not a
    number (letters) or too short to mean one."""
    if not needle or any(ch.isalpha() for ch in needle):
        return None
    digits = "".join(ch for ch in needle if ch.isdigit()).lstrip("0")
    return digits if len(digits) >= 3 else None


def list_contacts(
    session: Session,
    partner: Partner,
    paging: PageRequest,
    *,
    q: str | None,
    consent_status: str | None = None,
    channel: str | None = None,
    sms_consent_status: str | None = None,
    sort: str = CONTACTS.default,
) -> Paged[Contact]:
    where: list[Any] = [Contact.partner_id == partner.id]
    if q:
        needle = q.strip().lower()
        matches = [
            func.lower(col(Contact.email)).contains(needle),
            func.lower(col(Contact.name)).contains(needle),
        ]
        digits = phone_digits(needle)
        if digits:
            matches.append(col(Contact.phone).contains(digits))
        where.append(or_(*matches))
    if consent_status:
        where.append(Contact.consent_status == consent_status)
    if channel:
        where.append(Contact.channel == channel)
    if sms_consent_status:
        where.append(Contact.sms_consent_status == sms_consent_status)
    return fetch(session, select(Contact).where(*where), CONTACTS, sort, paging)


def contact_reads(session: Session, contacts: list[Contact]) -> list[ContactRead]:
    """Rows with their suppression flag, one suppression query per page."""
    if not contacts:
        return []
    brand_id = contacts[0].brand_id
    suppressed = suppressed_among(session, brand_id, [c.email for c in contacts])
    texts_barred = suppressed_phones(session, brand_id, [c.phone for c in contacts if c.phone])
    return [
        ContactRead.model_validate(c).model_copy(
            update={
                "suppressed": c.email in suppressed,
                "sms_suppressed": bool(c.phone) and c.phone in texts_barred,
            }
        )
        for c in contacts
    ]


def summary(session: Session, partner: Partner) -> ContactSummary:
    by_consent = dict(
        session.exec(
            select(Contact.consent_status, func.count())
            .where(Contact.partner_id == partner.id)
            .group_by(Contact.consent_status)
        ).all()
    )
    suppressed = session.exec(
        select(func.count())
        .select_from(Contact)
        .join(
            Suppression,
            (col(Suppression.brand_id) == col(Contact.brand_id))
            & (col(Suppression.email) == func.lower(col(Contact.email))),
        )
        .where(Contact.partner_id == partner.id)
    ).one()
    erased = session.exec(
        select(ErasureCount.count).where(ErasureCount.partner_id == partner.id)
    ).first()
    assert partner.id is not None
    return ContactSummary(
        partner_id=partner.id,
        total=sum(by_consent.values()),
        consent_granted=by_consent.get(ConsentStatus.granted.value, 0),
        consent_denied=by_consent.get(ConsentStatus.denied.value, 0),
        consent_unknown=by_consent.get(ConsentStatus.unknown.value, 0),
        suppressed=suppressed,
        erased=erased or 0,
        shared_with_brand=partner.contacts_shared_with_brand,
    )


def set_sharing(session: Session, actor: Actor, partner: Partner, shared: bool) -> Partner:
    if not may_share_contacts(actor.principal, target_of(partner)):
        raise Forbidden("Only the partner's GM (partner_manager) decides whether HQ sees contacts")
    before = {"contacts_shared_with_brand": partner.contacts_shared_with_brand}
    partner.contacts_shared_with_brand = shared
    partner.updated_at = utcnow()
    session.add(partner)
    session.flush()
    record(
        session,
        actor,
        "partner.contacts_sharing",
        partner,
        before,
        {"contacts_shared_with_brand": shared},
    )
    return partner


def erase_contact(session: Session, contact: Contact) -> None:
    """GDPR erasure: the one place that forgets a person. Every table that references a contact
    must be anonymised here, in the caller's transaction (the delivery ledger: blank the
    recipient address and name of the contact's Delivery rows, keep status and counts; the
    embedded outbox: blank the address and subject of those messages' rows, whose files the
    viewer never shows again, see services.outbox).

    The brand's suppression entry for the address stays on purpose: it is how the objection is
    honoured if the address is ever imported again. The partner's erasure count goes up by one.
    """
    assert contact.id is not None
    _count_erasure(session, contact.brand_id, contact.partner_id)
    delivery_ids = session.exec(select(Delivery.id).where(Delivery.contact_id == contact.id)).all()
    if delivery_ids:  # the outbox's record of those messages (its viewer redraws them)
        ids = [str(i) for i in delivery_ids]
        session.exec(
            update(OutboxMessage)
            .where(col(OutboxMessage.delivery_id).in_(ids))
            .values(to="", subject="")
        )
        session.exec(  # an SMS row is its whole message: number and text go
            update(OutboxSms).where(col(OutboxSms.delivery_id).in_(ids)).values(to="", body="")
        )
    session.exec(
        update(Delivery)
        .where(col(Delivery.contact_id) == contact.id)
        .values(contact_id=None, email="", phone="", updated_at=utcnow())
    )
    session.delete(contact)
    session.flush()


def _count_erasure(session: Session, brand_id: int, partner_id: int) -> None:
    bumped = session.exec(
        update(ErasureCount)
        .where(col(ErasureCount.partner_id) == partner_id)
        .values(count=col(ErasureCount.count) + 1, updated_at=utcnow())
    )
    if bumped.rowcount:
        return
    try:
        with session.begin_nested():
            session.add(ErasureCount(brand_id=brand_id, partner_id=partner_id, count=1))
    except IntegrityError:  # created concurrently: count on the row that won
        _count_erasure(session, brand_id, partner_id)


def erase(session: Session, actor: Actor, partner: Partner, contact: Contact) -> None:
    contact_id = contact.id
    erase_contact(session, contact)
    record(
        session, actor, f"contact.erased.{contact_id}", partner, {"contact_id": contact_id}, None
    )
