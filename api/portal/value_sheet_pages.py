"""The partners' value sheet in the portal ("My campaigns"): download the open partner
campaigns as XLSX, upload it back to save many at once; problems shown as a table. The same
service as /api/v1/partner-value-sheets (services/campaign_sheets/partner_values.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.portal.uploads import form_sheet
from api.portal.web import PortalPartnerCampaignEditor, PortalRoute, render
from core.errors import Problem
from i18n.translate import gettext
from services.campaign_sheets import partner_values
from services.campaign_sheets.template import XLSX_TYPE

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])


@router.get("/my-campaigns/values.xlsx")
def partner_value_sheet_file(
    principal: PortalPartnerCampaignEditor, session: SessionDep, settings: SettingsDep
) -> Response:
    return Response(
        partner_values.partner_value_sheet(session, principal, settings.campaign_sheet_max_rows),
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": 'attachment; filename="partner-values.xlsx"'},
    )


@router.post("/my-campaigns/values", response_class=HTMLResponse)
async def upload_partner_value_sheet_page(
    principal: PortalPartnerCampaignEditor,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
) -> Response:
    try:
        filename, data = await form_sheet(request, settings)
        report = await partner_values.save_value_sheet(
            session,
            client.get,
            principal,
            filename,
            data,
            settings.campaign_sheet_max_rows,
        )
    except Problem as err:
        rows = [e for e in err.errors or [] if "row" in e]
        return render(
            request,
            "value_sheet_refused.html",
            status=err.status,
            title=gettext("Sheet refused"),
            detail=err.detail,
            problems=rows,
        )
    saved = sum(1 for r in report.rows if r["saved"])
    return RedirectResponse(f"/my-campaigns?saved={saved}", status_code=303)
