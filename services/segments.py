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

from content.spec import TemplateContent
from core.errors import FieldError, NotFound, Problem
from models.base import utcnow
from models.campaigns import Campaign
from models.contact_schemas import AudienceBreakdown, SegmentCreate, SegmentFilter, SegmentUpdate
from models.contacts import Channel, ConsentStatus, Contact, Segment
from models.org import Partner
from models.templates import TemplateVersion
from services.sms.suppression import suppressed_phones
from services.suppression import suppressed_among

PAGE = 1000


@dataclass(frozen=True)
class _Row:
    id: int
    email: str
    consent_status: str
    matches: bool
    channel: str = Channel.email.value
    phone: str = ""
    sms_consent_status: str = ConsentStatus.unknown.value


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
            _Row(
                c.id or 0,
                c.email,
                c.consent_status,
                flt.matches(c.tags, c.locale, c.attributes),
                c.channel,
                c.phone or "",
                c.sms_consent_status,
            )
            for c in rows
        ]
        last = page[-1].id
        for contact in rows:  # the page is read: keep the session's identity map small
            session.expunge(contact)
        yield page


def _verdicts(
    session: Session, brand_id: int, page: list[_Row], *, sms: bool
) -> Iterator[tuple[_Row, str]]:
    """Each matching row with what the send does with it: "email", "sms", "suppressed" or
    "no_consent". With an SMS variant (`sms`), a contact preferring SMS gets an SMS when it has
    a number, SMS consent granted and a number not suppressed, and NOTHING otherwise: they
    chose SMS, and a STOP must never turn into an email. Everyone else follows the email
    rules (a suppressed address counts as suppressed whatever its consent)."""
    matching = [r for r in page if r.matches]
    texted = [r for r in matching if sms and r.channel == Channel.sms.value]
    mailed = [r for r in matching if not (sms and r.channel == Channel.sms.value)]
    blocked = suppressed_among(session, brand_id, [r.email for r in mailed])
    stopped = suppressed_phones(session, brand_id, [r.phone for r in texted if r.phone])
    for row in matching:
        if sms and row.channel == Channel.sms.value:
            if row.phone and row.phone in stopped:
                yield row, "suppressed"
            elif not row.phone or row.sms_consent_status != ConsentStatus.granted.value:
                yield row, "no_consent"
            else:
                yield row, Channel.sms.value
        elif row.email in blocked:
            yield row, "suppressed"
        elif row.consent_status != ConsentStatus.granted.value:
            yield row, "no_consent"
        else:
            yield row, Channel.email.value


def eligible_contact_ids(
    session: Session,
    brand_id: int,
    partner_id: int,
    segment_filter: SegmentFilter | dict[str, Any],
    *,
    sms: bool = False,
) -> Iterator[int]:
    """Ids of the partner's contacts a send reaches (by email, or by SMS when the template has
    an SMS variant: `sms`), ascending, streamed page by page (the send snapshot consumes it as
    it goes; services.delivery.snapshot picks each row's channel)."""
    flt = _as_filter(segment_filter)
    # Email consent narrows in SQL only when nobody can be texted instead.
    for page in _pages(session, partner_id, flt, granted_only=not sms):
        for row, verdict in _verdicts(session, brand_id, page, sms=sms):
            if verdict in (Channel.email.value, Channel.sms.value):
                yield row.id


def audience_breakdown(
    session: Session,
    brand_id: int,
    partner_id: int,
    segment_filter: SegmentFilter | dict[str, Any],
    *,
    sms: bool = False,
) -> AudienceBreakdown:
    """matching = eligible + suppressed + no_consent, and eligible = eligible_email +
    eligible_sms; a suppressed contact counts as suppressed whatever its consent, since
    suppression is the stronger reason not to send."""
    flt = _as_filter(segment_filter)
    out = AudienceBreakdown()
    for page in _pages(session, partner_id, flt, granted_only=False):
        for _row, verdict in _verdicts(session, brand_id, page, sms=sms):
            out.matching += 1
            if verdict == "suppressed":
                out.suppressed += 1
            elif verdict == "no_consent":
                out.no_consent += 1
            else:
                out.eligible += 1
                if verdict == Channel.sms.value:
                    out.eligible_sms += 1
                else:
                    out.eligible_email += 1
    return out


def has_sms_variant(session: Session, campaign_id: int) -> bool:
    """Whether the campaign's template version has an SMS variant: only then does anybody's
    channel preference matter."""
    campaign = session.get(Campaign, campaign_id)
    version = session.get(TemplateVersion, campaign.template_version_id) if campaign else None
    if version is None:
        return False
    return TemplateContent.model_validate(version.content).sms is not None


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
