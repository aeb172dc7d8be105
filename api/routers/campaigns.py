"""Campaigns as HQ prepares them: create (idempotent), list, read with counts, edit drafts.

Launching, cancelling and extending run through the campaign workflow (another module)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from api.deps import RequestIdDep, SessionDep
from api.routers.params import PagingDep, page_of
from api.security import CampaignManager, CampaignReader
from core.policy import Permission
from domain.states import CampaignState
from models.campaign_schemas import CampaignCreate, CampaignDetail, CampaignRead, CampaignUpdate
from models.schemas import Page
from services import campaigns as svc
from services.org import Actor

router = APIRouter(prefix="/api/v1", tags=["campaigns"])


@router.post(
    "/campaigns",
    response_model=CampaignRead,
    status_code=201,
    responses={200: {"model": CampaignRead, "description": "the Idempotency-Key was seen"}},
    summary="Create a campaign (Idempotency-Key supported)",
)
def create_campaign(
    principal: CampaignManager,
    session: SessionDep,
    rid: RequestIdDep,
    body: CampaignCreate,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(min_length=1, max_length=200, description="retries with the same key create once"),
    ] = None,
) -> CampaignRead:
    campaign, created = svc.create_campaign(session, Actor(principal, rid), body, idempotency_key)
    if not created:
        response.status_code = 200
    return svc.campaign_read(campaign, svc.counts_by_state(session, campaign.id or 0))


@router.get("/campaigns", response_model=Page[CampaignRead], summary="List campaigns")
def list_campaigns(
    principal: CampaignReader,
    session: SessionDep,
    paging: PagingDep,
    state: CampaignState | None = None,
    q: Annotated[str | None, Query(max_length=200, description="part of the name")] = None,
    sort: str = svc.CAMPAIGNS.sort_query(),
) -> Page[CampaignRead]:
    result = svc.list_campaigns(
        session, principal, paging, state=state.value if state else None, q=q, sort=sort
    )
    return page_of(result, paging, svc.campaign_reads(session, result.items))


@router.get(
    "/campaigns/{campaign_id}",
    response_model=CampaignDetail,
    summary="Read a campaign with partner campaign counts",
)
def read_campaign(
    principal: CampaignReader, session: SessionDep, campaign_id: int
) -> CampaignDetail:
    """The campaign with its partner campaigns per state (`counts`) and per region and state
    (`by_region`, those the caller may read). Each partner's row: GET
    /partner-campaigns?campaign_id=..."""
    campaign = svc.load_campaign(session, principal, campaign_id)
    return svc.campaign_detail(session, principal, campaign)


@router.patch(
    "/campaigns/{campaign_id}", response_model=CampaignRead, summary="Edit a draft campaign"
)
def update_campaign(
    principal: CampaignManager,
    session: SessionDep,
    rid: RequestIdDep,
    campaign_id: int,
    body: CampaignUpdate,
) -> CampaignRead:
    campaign = svc.load_campaign(session, principal, campaign_id, Permission.campaign_manage)
    campaign = svc.update_campaign(session, Actor(principal, rid), campaign, body)
    return svc.campaign_read(campaign, svc.counts_by_state(session, campaign_id))
