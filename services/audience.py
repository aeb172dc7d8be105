"""Who a partner campaign's send reaches: the segment named at submit, checked and counted."""

from __future__ import annotations

from sqlmodel import Session

from core.errors import FieldError
from models.campaigns import PartnerCampaign
from models.contacts import Segment
from services import segments


def check_segment(session: Session, row: PartnerCampaign, segment_id: int) -> Segment:
    """The segment, when it is one of this partner's own; another partner's segment is
    refused exactly like one that does not exist."""
    segment = session.get(Segment, segment_id)
    if segment is None or segment.partner_id != row.partner_id:
        raise FieldError("segment_id", f"segment {segment_id} is not one of this partner's")
    return segment


def audience_of(session: Session, row: PartnerCampaign) -> dict[str, int]:
    """As snapshotted once the send has started, else live: what the GM sees when deciding."""
    if row.audience:
        return {k: int(v) for k, v in row.audience.items()}
    segment = session.get(Segment, row.segment_id) if row.segment_id else None
    rules = dict(segment.filter) if segment is not None else {}
    sms = segments.has_sms_variant(session, row.campaign_id)
    breakdown = segments.audience_breakdown(session, row.brand_id, row.partner_id, rules, sms=sms)
    return breakdown.model_dump()
