"""Resuming a paused send: after the email account (or the fault) was fixed, the send tries
again now instead of at its next timer. The API and the portal's Resume button both call this,
so they allow the same people (campaign_manage on the partner campaign: HQ) and refuse alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlmodel import Session
from temporalio.client import Client

from core.errors import Conflict
from core.policy import Permission, Principal, allows
from domain.states import PartnerCampaignState
from domain.workflow_ids import send_workflow_id
from i18n.translate import gettext as _
from models.campaigns import PartnerCampaign
from services import campaigns as crud
from workflows.send import SendWorkflow


def may_resume(principal: Principal, row: PartnerCampaign) -> bool:
    """Whether the caller sees the Resume button (the send must be paused, too)."""
    return allows(principal, Permission.campaign_manage, crud.partner_campaign_target(row))


async def resume_send(
    session: Session,
    connect: Callable[[], Awaitable[Client]],
    principal: Principal,
    partner_campaign_id: int,
) -> PartnerCampaign:
    """Signal the send to resume; refused (409) unless the partner campaign is sending."""
    row = crud.load_partner_campaign(
        session, principal, partner_campaign_id, Permission.campaign_manage
    )
    if row.state != PartnerCampaignState.sending:
        raise Conflict(
            _(
                "This campaign is not sending (it is %(state)s): there is nothing to resume.",
                state=row.state,
            )
        )
    handle = (await connect()).get_workflow_handle(send_workflow_id(partner_campaign_id))
    await handle.signal(SendWorkflow.resume)
    return row
