"""The outbox viewer (the embedded transport, dev mode): what was "sent", for brand roles with
outbox.read, scoped and withheld exactly as GET /api/v1/outbox by services.outbox."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlmodel import Session, col, select

from api.deps import SessionDep, SettingsDep
from api.portal.paging import CursorQuery, IdFilter, pager, portal_page
from api.portal.web import PortalOutboxReader, PortalRoute, render
from api.routers.outbox import eml_response
from core.policy import Principal
from core.settings import EmailTransport, SmsTransportKind
from i18n.translate import gettext
from models.campaigns import PartnerCampaign
from services import campaigns as crud
from services import outbox as svc
from services.sms import outbox as outbox_sms

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])


def _labels(session: Session, principal: Principal, ids: list[int]) -> dict[int, str]:
    """ "Campaign for Partner" per partner campaign id, within the caller's brand."""
    if not ids:
        return {}
    rows = session.exec(
        select(PartnerCampaign).where(
            col(PartnerCampaign.id).in_(ids), PartnerCampaign.brand_id == principal.brand_id
        )
    ).all()
    return {
        r.id: gettext(
            "%(campaign)s for %(partner)s", campaign=r.campaign_name, partner=r.partner_name
        )
        for r in crud.partner_campaign_reads(session, rows)
    }


@router.get("/outbox", response_class=HTMLResponse)
def outbox_page(
    principal: PortalOutboxReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    partner_campaign_id: IdFilter = None,
    cursor: CursorQuery = None,
) -> HTMLResponse:
    result = svc.list_messages(
        session, principal, settings, portal_page(settings, cursor), partner_campaign_id
    )
    rows = result.items
    choices = svc.partner_campaign_ids(session, principal)
    labels = _labels(
        session, principal, sorted({*choices, *(r.partner_campaign_id or 0 for r in rows)})
    )
    return render(
        request,
        "outbox.html",
        title=gettext("Outbox"),
        items=rows,
        pager=pager(request, result, {"partner_campaign_id": partner_campaign_id}),
        labels=labels,
        choices=choices,
        selected=partner_campaign_id,
        embedded=settings.email_transport == EmailTransport.outbox,
    )


@router.get("/outbox-sms", response_class=HTMLResponse)
def outbox_sms_page(
    principal: PortalOutboxReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    partner_campaign_id: IdFilter = None,
    cursor: CursorQuery = None,
) -> HTMLResponse:
    """The SMS the embedded SMS transport kept: one card per message (readable on a phone)."""
    result = outbox_sms.list_sms(
        session, principal, portal_page(settings, cursor), partner_campaign_id
    )
    rows = result.items
    labels = _labels(session, principal, sorted({r.partner_campaign_id or 0 for r in rows}))
    return render(
        request,
        "outbox_sms.html",
        title=gettext("Outbox SMS"),
        items=rows,
        pager=pager(request, result, {"partner_campaign_id": partner_campaign_id}),
        labels=labels,
        selected=partner_campaign_id,
        embedded=settings.sms_transport == SmsTransportKind.outbox,
    )


@router.get("/outbox/{outbox_id}", response_class=HTMLResponse)
def message_page(
    principal: PortalOutboxReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    outbox_id: int,
) -> HTMLResponse:
    """One message: its HTML in a sandboxed frame (no scripts), and the raw .eml; redrawn
    with placeholders when its recipient is withheld."""
    row, msg = svc.message(session, principal, settings, outbox_id)
    kind, body = svc.body_of(msg)
    pc_id = row.partner_campaign_id
    labels = _labels(session, principal, [pc_id] if pc_id else [])
    return render(
        request,
        "outbox_message.html",
        title=row.subject or gettext("Message"),
        m=row,
        kind=kind,
        body=body,
        label=labels.get(pc_id or 0, ""),
        sender=str(msg["From"] or ""),
        reply_to=str(msg["Reply-To"] or ""),
    )


@router.get("/outbox/{outbox_id}/raw")
def raw_message(
    principal: PortalOutboxReader, session: SessionDep, settings: SettingsDep, outbox_id: int
) -> Response:
    return eml_response(svc.raw_message(session, principal, settings, outbox_id), outbox_id)
