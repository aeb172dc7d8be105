"""The brand's suppression list: addresses never sent to again, whichever partner lists them.

Entries are stored fully lower-cased and compared that way: contacts keep the local part as
given, but almost every mailbox ignores its case, and erring towards not sending is the safe
side of an unsubscribe.

`suppress` is idempotent (the first reason stays: an address that bounced and then
unsubscribed remains "bounced", which is what deliverability needs to know). The send engine
calls `is_suppressed` at snapshot time and again right before each message.

An entry that came from a partner's contact (unsubscribe, bounce, complaint) is that partner's
data: HQ reads its address and detail only where it may see the partner's contact data
(services.access.brand_contact_data_partners); otherwise the entry is listed with its reason
and the address withheld, and a search finds it only by the whole address, never by a part.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.errors import Conflict, FieldError, NotFound
from models.contact_schemas import SuppressionRead
from models.contacts import Suppression, SuppressionReason
from models.locales import normalise_email
from services.paging import Key, Listing, Paged, PageRequest, fetch


def suppression_key(email: str) -> str:
    """The form an address is listed and looked up in."""
    return email.strip().lower()


def _email(raw: str) -> str:
    try:
        return suppression_key(normalise_email(raw))
    except ValueError as err:
        raise FieldError("email", str(err)) from err


def find(session: Session, brand_id: int, email: str) -> Suppression | None:
    return session.exec(
        select(Suppression).where(Suppression.brand_id == brand_id, Suppression.email == email)
    ).first()


def is_suppressed(session: Session, brand_id: int, email: str) -> bool:
    """Whether the brand must not send to the address (compared in its normalised form)."""
    try:
        email = suppression_key(normalise_email(email))
    except ValueError:
        return True  # an address we cannot even parse is never sent to
    return find(session, brand_id, email) is not None


def suppressed_among(session: Session, brand_id: int, emails: list[str]) -> set[str]:
    """The subset of the given (normalised) addresses that is on the list, as given: one query
    for a batch."""
    if not emails:
        return set()
    keys = {suppression_key(e) for e in emails}
    rows = set(
        session.exec(
            select(Suppression.email).where(
                Suppression.brand_id == brand_id, col(Suppression.email).in_(sorted(keys))
            )
        ).all()
    )
    return {e for e in emails if suppression_key(e) in rows}


def suppress(
    session: Session,
    brand_id: int,
    email: str,
    reason: SuppressionReason | str,
    detail: str = "",
    *,
    source: str = "",
    created_by: int | None = None,
    partner_id: int | None = None,
) -> Suppression:
    """Add the address once; calling again (a retried webhook, a second click) returns the row.

    Runs inside the caller's transaction; a concurrent insert of the same address is absorbed
    with a savepoint."""
    email = _email(email)
    reason = SuppressionReason(reason).value
    existing = find(session, brand_id, email)
    if existing is not None:
        return existing
    row = Suppression(
        brand_id=brand_id,
        email=email,
        reason=reason,
        source=source[:200],
        detail=detail[:1000],
        created_by=created_by,
        partner_id=partner_id,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = find(session, brand_id, email)
        if found is None:
            raise
        return found
    return row


WITHHELD = "(withheld)"


def _visible(partners: frozenset[int]) -> Any:
    """Entries whose address the caller may read: added by hand, or from a partner in
    `partners` (whose contact data the caller may see)."""
    return or_(
        and_(col(Suppression.partner_id).is_(None), col(Suppression.reason) == "manual"),
        col(Suppression.partner_id).in_(sorted(partners)),
    )


def is_withheld(row: Suppression, partners: frozenset[int]) -> bool:
    """The Python twin of _visible (the same rule for one row)."""
    if row.partner_id is None:
        return row.reason != SuppressionReason.manual.value
    return row.partner_id not in partners


def read_of(row: Suppression, partners: frozenset[int]) -> SuppressionRead:
    read = SuppressionRead.model_validate(row)
    if not is_withheld(row, partners):
        return read
    return read.model_copy(update={"email": WITHHELD, "detail": "", "email_withheld": True})


SUPPRESSIONS = Listing(
    "suppressions",
    col(Suppression.id),
    {"created_at": Key(col(Suppression.created_at), "datetime")},
    default="-created_at",
)


def list_suppressions(
    session: Session,
    brand_id: int,
    *,
    partners: frozenset[int],
    q: str | None,
    paging: PageRequest,
    reason: str | None = None,
    sort: str = "-created_at",
) -> Paged[Suppression]:
    """Newest first by default. `q` matches part of a readable address, or a withheld one in
    full. No order by address: the position of a withheld entry would tell its address."""
    where: list[Any] = [Suppression.brand_id == brand_id]
    if q:
        needle = q.strip().lower()
        where.append(
            or_(
                and_(_visible(partners), col(Suppression.email).contains(needle)),
                col(Suppression.email) == needle,
            )
        )
    if reason:
        where.append(Suppression.reason == reason)
    return fetch(session, select(Suppression).where(*where), SUPPRESSIONS, sort, paging)


def load(session: Session, brand_id: int, suppression_id: int) -> Suppression:
    row = session.get(Suppression, suppression_id)
    if row is None or row.brand_id != brand_id:
        raise NotFound("suppression", suppression_id)
    return row


def remove_manual(session: Session, row: Suppression) -> None:
    """Only manual entries can be lifted: an unsubscribe, bounce or complaint is a fact about
    the address that an HQ user must not overrule."""
    if row.reason != SuppressionReason.manual.value:
        raise Conflict(
            f"suppression {row.id} is {row.reason}: only manual suppressions can be removed"
        )
    session.delete(row)
    session.flush()
