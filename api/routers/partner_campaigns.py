"""Partner campaigns: one per invited partner, visible only within the reader's scope.

Personalising, submitting and deciding go through the partner campaign workflow (another
module)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import SessionDep
from api.routers.params import PagingDep, page_of
from api.security import PartnerCampaignReader
from domain.states import PartnerCampaignState
from models.campaign_schemas import PartnerCampaignRead
from models.schemas import Page
from services import campaigns as svc
from services.audience import audience_of

router = APIRouter(prefix="/api/v1", tags=["partner-campaigns"])


@router.get(
    "/partner-campaigns", response_model=Page[PartnerCampaignRead], summary="List partner campaigns"
)
def list_partner_campaigns(
    principal: PartnerCampaignReader,
    session: SessionDep,
    paging: PagingDep,
    campaign_id: int | None = None,
    state: PartnerCampaignState | None = None,
    partner_id: int | None = None,
    region_id: Annotated[int | None, Query(description="partners of this region")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="part of the partner's name")
    ] = None,
    sort: str = svc.PARTNER_CAMPAIGNS.sort_query("(`partner_name`: the partner's name)"),
) -> Page[PartnerCampaignRead]:
    """Per campaign (`campaign_id`) this is the progress per partner: each row's state, with
    filters by state, region and partner name."""
    result = svc.list_partner_campaigns(
        session,
        principal,
        paging,
        campaign_id=campaign_id,
        state=state.value if state else None,
        partner_id=partner_id,
        region_id=region_id,
        q=q,
        sort=sort,
    )
    return page_of(result, paging, svc.partner_campaign_reads(session, result.items))


@router.get(
    "/partner-campaigns/{partner_campaign_id}",
    response_model=PartnerCampaignRead,
    summary="Read a partner campaign",
)
def read_partner_campaign(
    principal: PartnerCampaignReader, session: SessionDep, partner_campaign_id: int
) -> PartnerCampaignRead:
    pc = svc.load_partner_campaign(session, principal, partner_campaign_id)
    read = svc.partner_campaign_reads(session, [pc])[0]
    read.audience = audience_of(session, pc)
    return read
