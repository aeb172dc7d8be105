"""A partner's segments: definitions and live counts for everyone who sees the partner,
changes for those who may manage its contacts."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import SessionDep
from api.security import ContactCounter, ContactManager
from core.policy import Permission
from models.contact_schemas import AudienceBreakdown, SegmentCreate, SegmentRead, SegmentUpdate
from models.contacts import Segment
from services import segments as svc
from services.contacts import contact_partner

router = APIRouter(prefix="/api/v1/partners/{partner_id}/segments", tags=["segments"])


@router.get("", response_model=list[SegmentRead], summary="List a partner's segments")
def list_segments(principal: ContactCounter, session: SessionDep, partner_id: int) -> list[Segment]:
    partner = contact_partner(session, principal, partner_id, Permission.contact_count)
    return svc.list_segments(session, partner)


@router.post("", response_model=SegmentRead, status_code=201, summary="Create a segment")
def create_segment(
    principal: ContactManager, session: SessionDep, partner_id: int, body: SegmentCreate
) -> Segment:
    partner = contact_partner(session, principal, partner_id, Permission.contact_manage)
    return svc.create_segment(session, partner, body, principal.user_id)


@router.get("/{segment_id}", response_model=SegmentRead, summary="Read a segment")
def read_segment(
    principal: ContactCounter, session: SessionDep, partner_id: int, segment_id: int
) -> Segment:
    partner = contact_partner(session, principal, partner_id, Permission.contact_count)
    return svc.load_segment(session, partner, segment_id)


@router.get(
    "/{segment_id}/count", response_model=AudienceBreakdown, summary="Count a segment's audience"
)
def count_segment(
    principal: ContactCounter, session: SessionDep, partner_id: int, segment_id: int
) -> AudienceBreakdown:
    """How many contacts match, and how many of them a send would reach."""
    partner = contact_partner(session, principal, partner_id, Permission.contact_count)
    return svc.count(session, svc.load_segment(session, partner, segment_id))


@router.patch("/{segment_id}", response_model=SegmentRead, summary="Update a segment")
def update_segment(
    principal: ContactManager,
    session: SessionDep,
    partner_id: int,
    segment_id: int,
    body: SegmentUpdate,
) -> Segment:
    partner = contact_partner(session, principal, partner_id, Permission.contact_manage)
    return svc.update_segment(session, svc.load_segment(session, partner, segment_id), body)


@router.delete("/{segment_id}", status_code=204, summary="Delete a segment")
def delete_segment(
    principal: ContactManager, session: SessionDep, partner_id: int, segment_id: int
) -> Response:
    partner = contact_partner(session, principal, partner_id, Permission.contact_manage)
    svc.delete_segment(session, svc.load_segment(session, partner, segment_id))
    return Response(status_code=204)
