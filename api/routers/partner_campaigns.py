"""Partner campaigns: one per invited partner, visible only within the reader's scope.

Personalising, submitting and deciding go through the partner campaign workflow (another
module)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import SessionDep
from api.routers.params import PagingDep
from api.security import PartnerCampaignReader
from domain.states import PartnerCampaignState
from models.campaign_schemas import PartnerCampaignRead
from models.schemas import Page
from services import campaigns as svc
from services.audience import audience_of

router = APIRouter(prefix="/api/v1", tags=["partner campaigns"])


@router.get("/partner-campaigns", response_model=Page[PartnerCampaignRead])
def list_partner_campaigns(
    principal: PartnerCampaignReader,
    session: SessionDep,
    paging: PagingDep,
    campaign_id: int | None = None,
    state: PartnerCampaignState | None = None,
    partner_id: int | None = None,
) -> Page[PartnerCampaignRead]:
    rows, total = svc.list_partner_campaigns(
        session,
        principal,
        campaign_id=campaign_id,
        state=state.value if state else None,
        partner_id=partner_id,
        limit=paging.limit,
        offset=paging.offset,
    )
    return Page(
        items=svc.partner_campaign_reads(session, rows),
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/partner-campaigns/{partner_campaign_id}", response_model=PartnerCampaignRead)
def read_partner_campaign(
    principal: PartnerCampaignReader, session: SessionDep, partner_campaign_id: int
) -> PartnerCampaignRead:
    pc = svc.load_partner_campaign(session, principal, partner_campaign_id)
    read = svc.partner_campaign_reads(session, [pc])[0]
    read.audience = audience_of(session, pc)
    return read
