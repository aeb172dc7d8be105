"""Campaign sheets in the portal, for HQ (campaign.manage): upload a plan, read its problems
as a table, confirm, watch the rows being created (the page polls while it works). The same
services as the API (services/campaign_sheets)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.portal.paging import CursorQuery, pager, portal_page
from api.portal.uploads import form_sheet
from api.portal.web import PortalCampaignManager, PortalRoute, error_page, render
from core.errors import Problem
from core.policy import Permission
from i18n.translate import N_, gettext
from services.campaign_sheets import store
from services.campaign_sheets.template import XLSX_TYPE, campaign_sheet_template
from services.org import Actor

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])


def _list_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: PortalCampaignManager,
    cursor: str | None,
    refusal: Problem | None = None,
) -> HTMLResponse:
    result = store.list_sheets(session, principal, portal_page(settings, cursor))
    return render(
        request,
        "campaign_sheets.html",
        status=refusal.status if refusal else 200,
        title=gettext("Campaign sheets"),
        items=[store.sheet_read(s) for s in result.items],
        pager=pager(request, result, {}),
        refusal=refusal,
        max_rows=settings.campaign_sheet_max_rows,
    )


@router.get("/campaign-sheets", response_class=HTMLResponse)
def campaign_sheets_page(
    principal: PortalCampaignManager,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    cursor: CursorQuery = None,
) -> HTMLResponse:
    return _list_page(request, session, settings, principal, cursor)


@router.get("/campaign-sheets/template")
def campaign_sheet_template_file(principal: PortalCampaignManager, session: SessionDep) -> Response:
    return Response(
        campaign_sheet_template(session, principal.brand_id),
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": 'attachment; filename="campaign-sheet.xlsx"'},
    )


@router.post("/campaign-sheets", response_class=HTMLResponse)
async def upload_campaign_sheet_page(
    principal: PortalCampaignManager,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> Response:
    try:
        filename, data = await form_sheet(request, settings)
        sheet, _ = await store.upload_sheet(
            session, client.get, Actor(principal, rid), settings, filename, data
        )
    except Problem as err:
        return _list_page(request, session, settings, principal, None, refusal=err)
    return RedirectResponse(f"/campaign-sheets/{sheet.id}", status_code=303)


@router.get("/campaign-sheets/{sheet_id:int}", response_class=HTMLResponse)
def campaign_sheet_page(
    principal: PortalCampaignManager, request: Request, session: SessionDep, sheet_id: int
) -> HTMLResponse:
    sheet = store.load_sheet(session, principal, sheet_id, Permission.campaign_manage)
    return render(
        request,
        "campaign_sheet.html",
        title=gettext("Sheet %(file)s", file=sheet.filename),
        sheet=store.sheet_read(sheet),
    )


@router.post("/campaign-sheets/{sheet_id:int}/confirm", response_class=HTMLResponse)
async def confirm_campaign_sheet_page(
    principal: PortalCampaignManager,
    request: Request,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
    sheet_id: int,
) -> Response:
    sheet = store.load_sheet(session, principal, sheet_id, Permission.campaign_manage)
    try:
        await store.confirm_sheet(session, client.get, Actor(principal, rid), sheet)
    except Problem as err:
        return error_page(request, err.status, N_("Not done"), err.detail)
    return RedirectResponse(f"/campaign-sheets/{sheet_id}", status_code=303)
