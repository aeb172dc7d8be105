"""Test sends of a partner campaign's current email to the people working on it
(services.send_tests: who may, to whom, how often, and why it is never a delivery)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import EngineDep, RequestIdDep, SessionDep, SettingsDep
from api.security import PartnerCampaignEditor
from services import send_tests as svc
from services.org import Actor

router = APIRouter(prefix="/api/v1", tags=["partner-campaigns"])
PROBLEM_REF = "#/components/schemas/Problem"


class TestSendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: list[str] = Field(
        default_factory=list,
        max_length=svc.MAX_RECIPIENTS,
        description="your address or those of active users of this partner; empty: you",
    )


class TestSendRead(BaseModel):
    partner_campaign_id: int
    recipients: list[str] = Field(description="who got it, by name")
    subject: str
    test: bool = True


@router.post(
    "/partner-campaigns/{partner_campaign_id}/test-sends",
    response_model=TestSendRead,
    status_code=201,
    responses={
        429: {
            "description": "Too many test sends of this partner campaign: wait Retry-After s",
            "content": {"application/problem+json": {"schema": {"$ref": PROBLEM_REF}}},
        }
    },
    summary="Send a test email of a partner campaign",
)
def send_partner_campaign_test(
    principal: PartnerCampaignEditor,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    rid: RequestIdDep,
    partner_campaign_id: int,
    body: TestSendBody | None = None,
) -> TestSendRead:
    """The saved values rendered as recipients would get them, before approval too, marked as
    a test ("[Test] " subject, X-Brandrelay-Test header); no ledger row, so the delivery counts
    never include it. 429 with Retry-After beyond the limit; 503 when the email service
    cannot take it now."""
    result = svc.send_test(
        session,
        engine,
        settings,
        Actor(principal, rid),
        partner_campaign_id,
        body.to if body else None,
    )
    return TestSendRead(
        partner_campaign_id=result.partner_campaign_id,
        recipients=result.recipients,
        subject=result.subject,
    )
