"""An order as the API and the portal both take it: placed (in a worker thread: the checks
and writes are blocking), committed, then the campaign workflow started by id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session
from temporalio.client import Client

from core.settings import Settings
from domain.states import CampaignState
from models.base import utcnow
from models.catalogue_schemas import CatalogueOrderCreate
from services import campaign_actions
from services.campaigns import aware
from services.catalogue.orders import Placed, place
from services.org import Actor


async def order(
    session: Session,
    connect: Callable[[], Awaitable[Client]],
    settings: Settings,
    actor: Actor,
    item_id: int,
    body: CatalogueOrderCreate,
    key: str | None,
) -> Placed:
    """A retry (same key) makes sure the workflow of the order it finds runs, so an order
    whose workflow start was lost (the service down after the commit) starts on retry."""
    placed = await run_in_threadpool(place, session, actor, item_id, body, key)
    session.commit()
    campaign = placed.campaign
    if campaign.state == CampaignState.running and aware(campaign.personalise_until) > utcnow():
        await campaign_actions.launch(
            session,
            await connect(),
            settings.temporal_task_queue,
            actor,
            campaign,
            delivery_task_queue=settings.temporal_delivery_task_queue,
        )
    session.refresh(placed.order)
    return placed
