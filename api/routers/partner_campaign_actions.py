"""A partner campaign's human actions (Temporal Updates), its preview and its timeline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from api.deps import RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.routers.templates import PREVIEW_RESPONSES, Format, render_preview
from api.security import PartnerCampaignEditor, PartnerCampaignReader
from core.db import release_connection
from core.errors import NotFound
from core.policy import Permission, Principal
from models.base import ZonedDatetime, utcnow
from models.campaign_schemas import PartnerCampaignRead
from models.campaigns import Campaign, PartnerCampaign
from models.template_schemas import TimelineRead, ValuesBody
from models.templates import TemplateVersion
from services import actor_names, previews, send_tests
from services import campaign_actions as flow
from services import campaigns as crud
from services.campaigns import aware
from workflows.partner_campaign import PartnerCampaignWorkflow
from workflows.partner_campaign_lifecycle import mermaid

router = APIRouter(prefix="/api/v1", tags=["partner-campaigns"])


class ContentBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"values": {"headline": "Open day in Amsterdam"}}]},
    )
    values: dict[str, Any] = Field(default_factory=dict)


class SmsPreviewBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"values": {"headline": "Open day in Amsterdam"}, "locale": "nl"}]
        },
    )
    values: dict[str, Any] = Field(
        default_factory=dict, description="the values as the form holds them (not saved)"
    )
    locale: str | None = Field(
        None, max_length=8, description="the recipient's language; default: the campaign's"
    )


class SmsPreviewRead(BaseModel):
    text: str = Field(description="as the recipient reads it, with the opt-out line")
    encoding: Literal["GSM-7", "UCS-2"]
    characters: int
    segments: int
    remaining: int = Field(description="characters left in the last segment")
    locale: str


class PartnerCampaignDecision(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"decision": "approve", "comment": "Looks good", "revision": 1},
                {"decision": "request_changes", "comment": "Please use the spring photo"},
            ]
        },
    )
    decision: Literal["approve", "request_changes", "reject"]
    comment: str | None = Field(None, max_length=2000)
    revision: int | None = Field(
        None,
        ge=1,
        le=2**31,
        description="the submission you reviewed (`revision` of the partner campaign): a "
        "decision is refused with 409 when the partner has submitted again since",
    )


class SubmitBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"segment_id": 1}]})
    segment_id: int | None = Field(None, description="the partner's segment; none: everyone")


class ScheduleBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"send_at": "2030-05-15T09:00:00+02:00"}]}
    )
    send_at: ZonedDatetime


def _read(session: Session, row: PartnerCampaign) -> PartnerCampaignRead:
    """The answer, read before the connection goes back to the pool: FastAPI ends the request's
    transaction only after an await (core.db.release_connection says why that matters)."""
    read = crud.partner_campaign_reads(session, [row])[0]
    release_connection(session)
    return read


async def _act(
    session: SessionDep,
    client: TemporalDep,
    principal: Principal,
    partner_campaign_id: int,
    permission: Permission,
    update: Any,
    *,
    validate: Callable[[PartnerCampaign], dict[str, Any]] | None = None,
    **fields: Any,
) -> PartnerCampaignRead:
    row = await flow.perform(
        session,
        client.get,
        principal,
        partner_campaign_id,
        permission,
        update,
        validate=validate,
        **fields,
    )
    return _read(session, row)


@router.put(
    "/partner-campaigns/{partner_campaign_id}/content",
    response_model=PartnerCampaignRead,
    summary="Save a partner campaign's slot values",
)
async def save_partner_campaign_content(
    principal: PartnerCampaignEditor,
    session: SessionDep,
    client: TemporalDep,
    partner_campaign_id: int,
    body: ContentBody,
) -> PartnerCampaignRead:
    """Saved only when every field is valid; a refusal names each field."""
    return await _act(
        session,
        client,
        principal,
        partner_campaign_id,
        Permission.partner_campaign_edit,
        PartnerCampaignWorkflow.save_content,
        validate=lambda _row: body.values,
        values=body.values,
    )


@router.post(
    "/partner-campaigns/{partner_campaign_id}/submit",
    response_model=PartnerCampaignRead,
    summary="Submit a partner campaign for approval",
)
async def submit_partner_campaign(
    principal: PartnerCampaignEditor,
    session: SessionDep,
    client: TemporalDep,
    partner_campaign_id: int,
    body: SubmitBody | None = None,
) -> PartnerCampaignRead:
    """Submit the saved content for approval, naming the segment it goes to."""
    row = await flow.submit(
        session, client.get, principal, partner_campaign_id, body.segment_id if body else None
    )
    return _read(session, row)


@router.post(
    "/partner-campaigns/{partner_campaign_id}/decision",
    response_model=PartnerCampaignRead,
    summary="Decide an approval task: approve, request changes or reject",
)
async def decide_partner_campaign(
    principal: PartnerCampaignReader,
    session: SessionDep,
    client: TemporalDep,
    partner_campaign_id: int,
    body: PartnerCampaignDecision,
) -> PartnerCampaignRead:
    """Decide the waiting stage: as an approver it names, or as the stand-in of one (a
    delegation: the decision counts for them and the audit says on whose behalf). Anyone else
    gets 403 (404 outside their reach)."""
    row = await flow.decide(
        session,
        client.get,
        principal,
        partner_campaign_id,
        decision=body.decision,
        comment=body.comment,
        revision=body.revision,
    )
    return _read(session, row)


@router.post(
    "/partner-campaigns/{partner_campaign_id}/decline",
    response_model=PartnerCampaignRead,
    summary="Decline to take part in a campaign",
)
async def decline_partner_campaign(
    principal: PartnerCampaignEditor,
    session: SessionDep,
    client: TemporalDep,
    partner_campaign_id: int,
) -> PartnerCampaignRead:
    return await _act(
        session,
        client,
        principal,
        partner_campaign_id,
        Permission.partner_campaign_edit,
        PartnerCampaignWorkflow.decline,
    )


@router.post(
    "/partner-campaigns/{partner_campaign_id}/schedule",
    response_model=PartnerCampaignRead,
    summary="Schedule an approved partner campaign's send",
)
async def schedule_partner_campaign(
    principal: PartnerCampaignEditor,
    session: SessionDep,
    client: TemporalDep,
    partner_campaign_id: int,
    body: ScheduleBody,
) -> PartnerCampaignRead:
    return await _act(
        session,
        client,
        principal,
        partner_campaign_id,
        Permission.partner_campaign_edit,
        PartnerCampaignWorkflow.schedule,
        send_at=body.send_at,
    )


@router.get(
    "/partner-campaigns/{partner_campaign_id}/preview",
    responses=PREVIEW_RESPONSES,
    summary="Preview a partner campaign (html, text, pdf or sms)",
)
def preview_partner_campaign(
    principal: PartnerCampaignReader,
    session: SessionDep,
    settings: SettingsDep,
    partner_campaign_id: int,
    format: Format = "html",
    locale: Annotated[
        str | None, Query(max_length=8, description="default: the campaign's language")
    ] = None,
) -> Response:
    """Exactly what the partner's recipients speaking `locale` would get, from the saved
    values."""
    row, version = _row_and_version(session, principal, partner_campaign_id)
    body = ValuesBody(values=row.values, locale=locale or row.locale, partner_id=row.partner_id)
    return render_preview(session, settings, principal, version, body, format, row.locale)


@router.post(
    "/partner-campaigns/{partner_campaign_id}/sms-preview",
    response_model=SmsPreviewRead,
    summary="Measure a partner campaign's SMS with unsaved values",
)
def sms_preview_partner_campaign(
    principal: PartnerCampaignReader,
    session: SessionDep,
    settings: SettingsDep,
    partner_campaign_id: int,
    body: SmsPreviewBody,
) -> SmsPreviewRead:
    """The SMS with the values as typed (nothing is saved) in `locale`, with the opt-out line,
    its encoding and segment count: the form's live counter. 422 names each invalid field,
    or says the template has no SMS variant."""
    row, version = _row_and_version(session, principal, partner_campaign_id)
    campaign = session.get(Campaign, row.campaign_id)
    assert campaign is not None
    values = ValuesBody(
        values=body.values,
        locale=body.locale or row.locale,
        partner_id=row.partner_id,
        window_start=utcnow().date(),
        window_end=aware(campaign.send_by).date(),
    )
    preview = previews.sms_preview(session, settings, principal, version, values, row.locale)
    return SmsPreviewRead.model_validate(asdict(preview))


def _row_and_version(
    session: Session, principal: Principal, partner_campaign_id: int
) -> tuple[PartnerCampaign, TemplateVersion]:
    row = crud.load_partner_campaign(session, principal, partner_campaign_id)
    campaign = session.get(Campaign, row.campaign_id)
    version = session.get(TemplateVersion, campaign.template_version_id) if campaign else None
    if version is None:
        raise NotFound("partner campaign", partner_campaign_id)
    return row, version


@router.get(
    "/partner-campaigns/{partner_campaign_id}/timeline",
    response_model=TimelineRead,
    summary="Read a partner campaign's timeline",
)
async def partner_campaign_timeline(
    principal: PartnerCampaignReader,
    session: SessionDep,
    client: TemporalDep,
    partner_campaign_id: int,
) -> TimelineRead:
    row = crud.load_partner_campaign(session, principal, partner_campaign_id)
    status = await flow.status_of(await client.get(), row)
    entries = send_tests.with_tests(session, row, status.timeline if status else [])
    return TimelineRead(
        state=status.state if status else row.state,
        timeline=actor_names.named_timeline(session, entries, row.brand_id),
        diagram=mermaid(),
    )


__all__ = ["RequestIdDep", "router"]
