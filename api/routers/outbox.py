"""The embedded outbox: list what was sent and read each message as .eml.

A contact's address, name and unsubscribe link appear only to those who may see that partner's
contact data (services.outbox); others get "1 recipient" and the message redrawn with
placeholders."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import SessionDep, SettingsDep
from api.routers.params import PagingDep, page_of
from api.security import OutboxReader
from models.schemas import Page
from services import outbox as svc
from services.sms import outbox as outbox_sms

router = APIRouter(prefix="/api/v1/outbox", tags=["outbox"])


class OutboxMessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    message_id: str
    to: str
    subject: str
    sent_at: datetime
    partner_campaign_id: int | None
    delivery_id: str | None
    recipient_withheld: bool = Field(
        description="the recipient is a partner's contact whose data you may not see (the "
        "partner does not share its contacts with the brand, your roles do not read contacts, "
        "or the contact was erased): `to` is a count and `subject` is drawn for a placeholder"
    )
    test: bool = Field(False, description="a test send: not a delivery, not in the counts")


@router.get(
    "", response_model=Page[OutboxMessageRead], summary="List messages of the embedded outbox"
)
def list_outbox_messages(
    principal: OutboxReader,
    session: SessionDep,
    settings: SettingsDep,
    paging: PagingDep,
    partner_campaign_id: Annotated[int | None, Query(ge=1)] = None,
    sort: str = svc.OUTBOX.sort_query(),
) -> Page[OutboxMessageRead]:
    """Newest first; `partner_campaign_id` narrows to one partner's campaign."""
    result = svc.list_messages(session, principal, settings, paging, partner_campaign_id, sort)
    return page_of(result, paging, (OutboxMessageRead.model_validate(r) for r in result.items))


class OutboxSmsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    message_id: str
    to: str
    sender_id: str = Field(description='the alphanumeric sender shown; "" the default number')
    body: str
    encoding: str = Field(description="GSM-7 or UCS-2")
    segments: int = Field(description="parts the text is billed and sent as")
    sent_at: datetime
    partner_campaign_id: int | None
    delivery_id: str | None
    recipient_withheld: bool = Field(
        description="the recipient is a partner's contact whose data you may not see: `to` "
        "is a count and `body` is withheld"
    )
    test: bool = Field(False, description="a test send: not a delivery, not in the counts")


@router.get(
    "/sms", response_model=Page[OutboxSmsRead], summary="List SMS of the embedded SMS outbox"
)
def list_outbox_sms(
    principal: OutboxReader,
    session: SessionDep,
    paging: PagingDep,
    partner_campaign_id: Annotated[int | None, Query(ge=1)] = None,
    sort: str = outbox_sms.OUTBOX_SMS.sort_query(),
) -> Page[OutboxSmsRead]:
    """Newest first; scoped and withheld as the email outbox (SMS_TRANSPORT=outbox)."""
    result = outbox_sms.list_sms(session, principal, paging, partner_campaign_id, sort)
    return page_of(result, paging, (OutboxSmsRead.model_validate(r) for r in result.items))


@router.get("/{outbox_id}/raw", response_class=Response, summary="Read an outbox message as .eml")
def read_outbox_message_raw(
    outbox_id: int, principal: OutboxReader, session: SessionDep, settings: SettingsDep
) -> Response:
    """The message as stored, or redrawn with placeholders when its recipient is withheld."""
    return eml_response(svc.raw_message(session, principal, settings, outbox_id), outbox_id)


def eml_response(data: bytes, outbox_id: int) -> Response:
    """A stored message as a download (the API and the portal's outbox viewer)."""
    return Response(
        data,
        media_type="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="message-{outbox_id}.eml"'},
    )
