"""Segments and audiences: which of a partner's contacts a send may reach.

Filtering runs in Python over contacts streamed in id order (keyset pages of PAGE rows, the
suppression check one query per page). Tags and attributes are JSON columns whose operators
differ between SQLite and PostgreSQL; evaluating the validated SegmentFilter in Python keeps one
definition of "matches" for counts, the GM's preview and the send snapshot, with memory bounded
by the page size. Consent (a plain column) is narrowed in SQL where only eligible rows count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import true
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.errors import FieldError, NotFound, Problem
from models.base import utcnow
from models.contact_schemas import AudienceBreakdown, SegmentCreate, SegmentFilter, SegmentUpdate
from models.contacts import ConsentStatus, Contact, Segment
from models.org import Partner
from services.suppression import suppressed_among

PAGE = 1000


@dataclass(frozen=True)
class _Row:
    id: int
    email: str
    consent_status: str
    matches: bool


def _as_filter(segment_filter: SegmentFilter | dict[str, Any]) -> SegmentFilter:
    if isinstance(segment_filter, SegmentFilter):
        return segment_filter
    return SegmentFilter.model_validate(segment_filter)


def _pages(
    session: Session, partner_id: int, flt: SegmentFilter, *, granted_only: bool
) -> Iterator[list[_Row]]:
    last = 0
    while True:
        stmt = select(Contact).where(Contact.partner_id == partner_id, col(Contact.id) > last)
        if granted_only:
            stmt = stmt.where(Contact.consent_status == ConsentStatus.granted.value)
        rows = session.exec(stmt.order_by(col(Contact.id)).limit(PAGE)).all()
        if not rows:
            return
        page = [
            _Row(c.id or 0, c.email, c.consent_status, flt.matches(c.tags, c.locale, c.attributes))
            for c in rows
        ]
        last = page[-1].id
        for contact in rows:  # the page is read: keep the session's identity map small
            session.expunge(contact)
        yield page


def eligible_contact_ids(
    session: Session, brand_id: int, partner_id: int, segment_filter: SegmentFilter | dict[str, Any]
) -> Iterator[int]:
    """Ids of the partner's contacts that match, have consent granted and are not suppressed by
    the brand, ascending, streamed page by page (the send snapshot consumes it as it goes)."""
    flt = _as_filter(segment_filter)
    for page in _pages(session, partner_id, flt, granted_only=True):
        matching = [r for r in page if r.matches]
        blocked = suppressed_among(session, brand_id, [r.email for r in matching])
        for row in matching:
            if row.email not in blocked:
                yield row.id


def audience_breakdown(
    session: Session, brand_id: int, partner_id: int, segment_filter: SegmentFilter | dict[str, Any]
) -> AudienceBreakdown:
    """matching = eligible + suppressed + no_consent; a suppressed contact counts as suppressed
    whatever its consent, since suppression is the stronger reason not to send."""
    flt = _as_filter(segment_filter)
    out = AudienceBreakdown()
    for page in _pages(session, partner_id, flt, granted_only=False):
        matching = [r for r in page if r.matches]
        blocked = suppressed_among(session, brand_id, [r.email for r in matching])
        for row in matching:
            out.matching += 1
            if row.email in blocked:
                out.suppressed += 1
            elif row.consent_status != ConsentStatus.granted.value:
                out.no_consent += 1
            else:
                out.eligible += 1
    return out


def count(session: Session, segment: Segment) -> AudienceBreakdown:
    return audience_breakdown(session, segment.brand_id, segment.partner_id, segment.filter)


# CRUD ------------------------------------------------------------------------------------------


def list_segments(session: Session, partner: Partner) -> list[Segment]:
    return list(
        session.exec(
            select(Segment).where(Segment.partner_id == partner.id).order_by(col(Segment.name))
        ).all()
    )


def load_segment(session: Session, partner: Partner, segment_id: int) -> Segment:
    segment = session.get(Segment, segment_id)
    if segment is None or segment.partner_id != partner.id:
        raise NotFound("segment", segment_id)
    return segment


def _name_taken(name: str) -> Problem:
    message = f"the partner already has a segment named {name!r}"
    return Problem(
        f"name: {message}",
        status=409,
        title="Conflict",
        errors=[{"field": "name", "message": message}],
    )


def _save(session: Session, segment: Segment, changes: dict[str, Any] | None = None) -> Segment:
    """Apply `changes` and write inside a savepoint, so a name taken meanwhile (a race the
    check before could not see) is a 409 on `name` and leaves the transaction usable."""
    clash = session.exec(
        select(Segment.id).where(
            Segment.partner_id == segment.partner_id,
            Segment.name == (changes or {}).get("name", segment.name),
            Segment.id != segment.id if segment.id is not None else true(),
        )
    ).first()
    if clash is not None:
        raise _name_taken(str((changes or {}).get("name", segment.name)))
    try:
        with session.begin_nested():
            for key, value in (changes or {}).items():
                setattr(segment, key, value)
            session.add(segment)
            session.flush()
    except IntegrityError as err:
        raise _name_taken(segment.name) from err
    return segment


def create_segment(
    session: Session, partner: Partner, body: SegmentCreate, created_by: int | None
) -> Segment:
    assert partner.id is not None
    name = body.name.strip()
    if not name:
        raise FieldError("name", "must not be blank")
    return _save(
        session,
        Segment(
            brand_id=partner.brand_id,
            partner_id=partner.id,
            name=name,
            filter=body.filter.model_dump(mode="json", by_alias=True, exclude_defaults=True),
            created_by=created_by,
        ),
    )


def update_segment(session: Session, segment: Segment, body: SegmentUpdate) -> Segment:
    changes: dict[str, Any] = {"updated_at": utcnow()}
    if body.name is not None:
        if not body.name.strip():
            raise FieldError("name", "must not be blank")
        changes["name"] = body.name.strip()
    if body.filter is not None:
        changes["filter"] = body.filter.model_dump(
            mode="json", by_alias=True, exclude_defaults=True
        )
    return _save(session, segment, changes)


def delete_segment(session: Session, segment: Segment) -> None:
    session.delete(segment)
    session.flush()
