"""Partner value sheets: a partner editor downloads its open partner campaigns as one XLSX
(a slot:<name> column per editable slot) and uploads it back to save many at once."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.routers.campaign_sheets import SheetFile, read_upload
from api.security import PartnerCampaignEditor
from services.campaign_sheets import partner_values
from services.campaign_sheets.template import XLSX_TYPE

router = APIRouter(prefix="/api/v1", tags=["partner-value-sheets"])


class ValueSheetRow(BaseModel):
    row: int = Field(description="the spreadsheet's row number")
    partner_campaign_id: int
    saved: bool
    state: str = Field(description="the partner campaign's state after the save")
    message: str = Field(description="why the workflow refused the save, when it did")


class ValueSheetResult(BaseModel):
    rows: list[ValueSheetRow]


@router.get(
    "/partner-value-sheets",
    summary="Download the caller's open partner campaigns as a value sheet (XLSX)",
    response_class=Response,
    responses={200: {"content": {XLSX_TYPE: {}}, "description": "the value sheet"}},
)
def download_partner_value_sheet(
    principal: PartnerCampaignEditor, session: SessionDep, settings: SettingsDep
) -> Any:
    """One row per partner campaign the caller may edit now (invited, drafting, changes
    requested), its current values in slot:<name> columns (grey: not in that template)."""
    data = partner_values.partner_value_sheet(session, principal, settings.campaign_sheet_max_rows)
    return Response(
        data,
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": 'attachment; filename="partner-values.xlsx"'},
    )


@router.post(
    "/partner-value-sheets",
    summary="Upload a value sheet: save slot values of several partner campaigns",
    response_model=ValueSheetResult,
)
async def upload_partner_value_sheet(
    principal: PartnerCampaignEditor,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    file: SheetFile,
) -> ValueSheetResult:
    """All or nothing at validation: any problem in any row is a 422 listing every problem
    (`errors`: sheet, row, column, message) and nothing is saved. Then each row is saved as
    PUT /partner-campaigns/{id}/content saves it; `rows` says what each save did."""
    data = await read_upload(file, settings)
    report = await partner_values.save_value_sheet(
        session,
        client.get,
        principal,
        file.filename or "",
        data,
        settings.campaign_sheet_max_rows,
    )
    return ValueSheetResult(rows=[ValueSheetRow.model_validate(r) for r in report.rows])
