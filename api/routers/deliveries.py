"""A partner campaign's send: progress from the ledger, and HQ's resume after a pause."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import SessionDep, TemporalDep
from api.security import PartnerCampaignReader
from domain.states import PauseKind
from services import campaigns as crud
from services import delivery, send_resume
from services.audience import audience_of

router = APIRouter(prefix="/api/v1", tags=["delivery"])


class DeliveryRead(BaseModel):
    partner_campaign_id: int
    state: str = Field(description="the partner campaign's state")
    audience: dict[str, int] = Field(description="matching, eligible, suppressed, no_consent")
    counts: dict[str, int] = Field(description="ledger rows per status")
    queued: int = Field(description="rows not sent yet (pending or in flight)")
    progress: float = Field(description="share of the ledger that is final, 0..1")
    paused: str | None = Field(
        None,
        description="why sending is paused (the email service's refusal, or a fault of the "
        "outbox, database or provider), else null",
    )
    paused_kind: PauseKind | None = Field(
        None,
        description="transport: the email account was refused, people must act (HQ resumes "
        "after the fix); fault: storage, database or provider down, the send probes and "
        "resumes on its own",
    )
    paused_since: datetime | None = None


@router.get(
    "/partner-campaigns/{partner_campaign_id}/delivery",
    response_model=DeliveryRead,
    summary="Read a partner campaign's send progress",
)
async def read_delivery(
    principal: PartnerCampaignReader,
    session: SessionDep,
    client: TemporalDep,
    partner_campaign_id: int,
) -> DeliveryRead:
    row = crud.load_partner_campaign(session, principal, partner_campaign_id)
    progress = delivery.progress_of(session, partner_campaign_id)
    pause = await delivery.current_pause(client.get, row)
    return DeliveryRead(
        partner_campaign_id=partner_campaign_id,
        state=row.state,
        audience=audience_of(session, row),
        counts=progress.counts,
        queued=progress.queued,
        progress=progress.share,
        paused=pause.reason if pause else None,
        paused_kind=pause.kind if pause else None,
        paused_since=pause.since if pause else None,
    )


@router.post(
    "/partner-campaigns/{partner_campaign_id}/delivery/resume",
    status_code=202,
    summary="Resume a paused send",
)
async def resume_delivery(
    principal: PartnerCampaignReader,
    session: SessionDep,
    client: TemporalDep,
    partner_campaign_id: int,
) -> dict[str, str]:
    """After the email account (or the fault) was fixed: retry a paused send now instead of
    at its timer."""
    await send_resume.resume_send(session, client.get, principal, partner_campaign_id)
    return {"status": "resume requested"}
