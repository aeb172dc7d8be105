"""HQ's campaign actions that reach the workflows: launch, cancel, extend, add partners."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.security import CampaignManager
from core.policy import Permission
from models.base import ZonedDatetime
from models.campaign_schemas import CampaignRead, PartnerCampaignRead
from services import campaign_actions as flow
from services import campaigns as crud
from services.org import Actor

router = APIRouter(prefix="/api/v1", tags=["campaigns"])


class ExtendBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"personalise_until": "2030-05-17T17:00:00+02:00"}]},
    )
    personalise_until: ZonedDatetime


class PartnersBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"partners": [3, 4]}]}
    )
    partners: list[int] = Field(min_length=1, max_length=10000)


@router.post(
    "/campaigns/{campaign_id}/launch",
    response_model=CampaignRead,
    summary="Launch a campaign (idempotent)",
)
async def launch_campaign(
    principal: CampaignManager,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    rid: RequestIdDep,
    campaign_id: int,
) -> CampaignRead:
    """Idempotent: launching a running campaign again only makes sure its workflow runs."""
    campaign = crud.load_campaign(session, principal, campaign_id, Permission.campaign_manage)
    campaign = await flow.launch(
        session,
        await client.get(),
        settings.temporal_task_queue,
        Actor(principal, rid),
        campaign,
        delivery_task_queue=settings.temporal_delivery_task_queue,
    )
    return crud.campaign_read(campaign, crud.counts_by_state(session, campaign_id))


@router.post(
    "/campaigns/{campaign_id}/cancel",
    response_model=CampaignRead,
    summary="Cancel a running campaign",
)
async def cancel_campaign(
    principal: CampaignManager,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
    campaign_id: int,
) -> CampaignRead:
    campaign = crud.load_campaign(session, principal, campaign_id, Permission.campaign_manage)
    campaign = await flow.cancel(session, await client.get(), Actor(principal, rid), campaign)
    return crud.campaign_read(campaign, crud.counts_by_state(session, campaign_id))


@router.post(
    "/campaigns/{campaign_id}/extend",
    response_model=CampaignRead,
    summary="Extend a campaign's personalisation window",
)
async def extend_campaign(
    principal: CampaignManager,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
    campaign_id: int,
    body: ExtendBody,
) -> CampaignRead:
    campaign = crud.load_campaign(session, principal, campaign_id, Permission.campaign_manage)
    campaign = await flow.extend(
        session, await client.get(), Actor(principal, rid), campaign, body.personalise_until
    )
    return crud.campaign_read(campaign, crud.counts_by_state(session, campaign_id))


@router.post(
    "/campaigns/{campaign_id}/partners",
    response_model=list[PartnerCampaignRead],
    status_code=201,
    summary="Add partners to a running campaign",
)
async def add_campaign_partners(
    principal: CampaignManager,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
    campaign_id: int,
    body: PartnersBody,
) -> list[PartnerCampaignRead]:
    campaign = crud.load_campaign(session, principal, campaign_id, Permission.campaign_manage)
    rows = await flow.add_partners(
        session, await client.get(), Actor(principal, rid), campaign, body.partners
    )
    return crud.partner_campaign_reads(session, rows)
