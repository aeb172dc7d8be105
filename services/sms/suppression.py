"""The brand's phone suppression list: numbers never texted again, whichever partner lists them.

The SMS twin of services.suppression. Numbers are stored as E.164 (models.phones), so two
spellings of one number are one entry. `suppress_phone` is idempotent (the first reason stays)
and, in the same transaction, denies SMS consent on every contact of the brand with that number
and appends an audit event naming the entry and the contacts by id only (the trail cannot be
erased, so it never holds the number).

Visibility follows the email list: an entry from a partner's contact (a STOP reply, a refusal
at send) is that partner's data; HQ reads its number only where it may see the partner's
contact data, otherwise `phone` is withheld (`is_withheld`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.errors import FieldError
from models.base import utcnow
from models.contact_schemas import PhoneSuppressionRead
from models.contacts import ConsentStatus, Contact, PhoneSuppression, SuppressionReason
from models.phones import normalise_phone
from services import audit
from services.paging import Key, Listing, Paged, PageRequest, fetch

ACTION = "contact.sms_opted_out"
WITHHELD = "(withheld)"


def _phone(raw: str) -> str:
    try:
        return normalise_phone(raw)
    except ValueError as err:
        raise FieldError("phone", str(err)) from err


def find(session: Session, brand_id: int, phone: str) -> PhoneSuppression | None:
    return session.exec(
        select(PhoneSuppression).where(
            PhoneSuppression.brand_id == brand_id, PhoneSuppression.phone == phone
        )
    ).first()


def suppressed_phones(session: Session, brand_id: int, phones: Iterable[str]) -> set[str]:
    """The subset of the given E.164 numbers the brand must not text: one query per batch."""
    wanted = sorted({p for p in phones if p})
    if not wanted:
        return set()
    return set(
        session.exec(
            select(PhoneSuppression.phone).where(
                PhoneSuppression.brand_id == brand_id, col(PhoneSuppression.phone).in_(wanted)
            )
        ).all()
    )


def is_phone_suppressed(session: Session, brand_id: int, phone: str) -> bool:
    return bool(suppressed_phones(session, brand_id, [phone]))


def _deny_consent(session: Session, brand_id: int, phone: str, source: str) -> list[int]:
    """Deny SMS consent on the brand's contacts with the number; their ids."""
    contacts = session.exec(
        select(Contact).where(Contact.brand_id == brand_id, Contact.phone == phone)
    ).all()
    now = utcnow()
    changed: list[int] = []
    for contact in contacts:
        if contact.sms_consent_status == ConsentStatus.denied.value:
            continue
        contact.sms_consent_status = ConsentStatus.denied.value
        contact.sms_consent_source = source[:200]
        contact.sms_consent_at = now
        contact.updated_at = now
        session.add(contact)
        if contact.id is not None:
            changed.append(contact.id)
    return changed


def suppress_phone(
    session: Session,
    brand_id: int,
    phone: str,
    reason: SuppressionReason | str,
    *,
    partner_id: int | None = None,
    source: str = "",
    detail: str = "",
    created_by: int | None = None,
    event_key: str | None = None,
) -> PhoneSuppression:
    """Add the number once; calling again (a replayed STOP, a second refusal) returns the row.

    Runs inside the caller's transaction; a concurrent insert of the same number is absorbed
    with a savepoint. Raises FieldError("phone") for something that is not a number.
    `event_key` names the audit event (an inbound STOP keys it by the SNS message, so a replay
    is recognised); by default it is keyed by the new entry."""
    phone = _phone(phone)
    reason = SuppressionReason(reason).value
    existing = find(session, brand_id, phone)
    if existing is not None:
        return existing
    row = PhoneSuppression(
        brand_id=brand_id,
        partner_id=partner_id,
        phone=phone,
        reason=reason,
        source=source[:200],
        detail=detail[:1000],
        created_by=created_by,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = find(session, brand_id, phone)
        if found is None:
            raise
        return found
    contacts = _deny_consent(session, brand_id, phone, source or f"sms {reason}")
    audit.append_in(
        session,
        audit.NewEvent(
            brand_id=brand_id,
            partner_id=partner_id,
            actor=str(created_by) if created_by is not None else (source or "system")[:100],
            action=ACTION,
            entity_type="phone_suppression",
            entity_id=str(row.id),
            event_key=event_key or f"phone-suppression:{brand_id}:{row.id}",
            before=None,
            after={"reason": reason, "source": row.source, "contact_ids": contacts},
        ),
    )
    return row


def is_withheld(row: PhoneSuppression, partners: frozenset[int]) -> bool:
    """Whether the caller, who may see the contact data of `partners`, must not read the
    number (the same rule as services.suppression.is_withheld)."""
    if row.partner_id is None:
        return row.reason != SuppressionReason.manual.value
    return row.partner_id not in partners


def shown_phone(row: PhoneSuppression, partners: frozenset[int]) -> str:
    return WITHHELD if is_withheld(row, partners) else row.phone


def read_of(row: PhoneSuppression, partners: frozenset[int]) -> PhoneSuppressionRead:
    read = PhoneSuppressionRead.model_validate(row)
    if not is_withheld(row, partners):
        return read
    return read.model_copy(update={"phone": WITHHELD, "detail": "", "phone_withheld": True})


def _visible(partners: frozenset[int]) -> Any:
    """The SQL twin of is_withheld: entries whose number the caller may read."""
    return or_(
        and_(
            col(PhoneSuppression.partner_id).is_(None),
            col(PhoneSuppression.reason) == SuppressionReason.manual.value,
        ),
        col(PhoneSuppression.partner_id).in_(sorted(partners)),
    )


PHONE_SUPPRESSIONS = Listing(
    "phone_suppressions",
    col(PhoneSuppression.id),
    {"created_at": Key(col(PhoneSuppression.created_at), "datetime")},
    default="-created_at",
)


def list_phone_suppressions(
    session: Session,
    brand_id: int,
    *,
    partners: frozenset[int],
    q: str | None,
    paging: PageRequest,
    reason: str | None = None,
    sort: str = "-created_at",
) -> Paged[PhoneSuppression]:
    """Newest first by default. `q` matches digits of a readable number, or a withheld one only
    as the whole number (any spelling normalise_phone reads), so a search never reveals part
    of a number the caller may not see."""
    where: list[Any] = [PhoneSuppression.brand_id == brand_id]
    if q and q.strip():
        digits = "".join(ch for ch in q if ch.isdigit())
        try:
            whole: str | None = normalise_phone(q)
        except ValueError:
            whole = None
        matches: list[Any] = []
        if digits:
            matches.append(and_(_visible(partners), col(PhoneSuppression.phone).contains(digits)))
        if whole is not None:
            matches.append(col(PhoneSuppression.phone) == whole)
        where.append(or_(*matches) if matches else col(PhoneSuppression.id) < 0)
    if reason:
        where.append(PhoneSuppression.reason == reason)
    return fetch(session, select(PhoneSuppression).where(*where), PHONE_SUPPRESSIONS, sort, paging)
