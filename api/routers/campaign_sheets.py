"""Campaign sheets: HQ uploads a campaign plan (XLSX or CSV), reads its problems, confirms;
CampaignSheetWorkflow creates and launches the rows (docs/campaign-sheets.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Response, UploadFile
from starlette.datastructures import UploadFile as FormFile

from api.deps import RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.routers.params import PagingDep, page_of
from api.security import CampaignManager, CampaignReader
from core.errors import Problem
from core.policy import Permission
from core.settings import Settings
from models.campaign_sheet_schemas import CampaignSheetRead
from models.schemas import Page
from services.campaign_sheets import store
from services.campaign_sheets.template import XLSX_TYPE, campaign_sheet_template
from services.org import Actor

router = APIRouter(prefix="/api/v1", tags=["campaign-sheets"])
SheetFile = Annotated[
    UploadFile,
    File(description="the campaign plan: .xlsx (sheet 'Campaigns' or the first) or UTF-8 .csv"),
]


async def read_upload(file: FormFile, settings: Settings) -> bytes:
    """The upload's bytes, refused (413) past CAMPAIGN_SHEET_MAX_BYTES before they are kept
    (the body limit stops larger bodies earlier; this covers a part without a size)."""
    limit = settings.campaign_sheet_max_bytes
    if file.size is not None and file.size > limit:
        raise Problem(f"file: is larger than {limit} bytes", status=413, title="Payload too large")
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise Problem(f"file: is larger than {limit} bytes", status=413, title="Payload too large")
    return data


@router.get(
    "/campaign-sheets/template",
    summary="Download the campaign sheet template (XLSX)",
    response_class=Response,
    responses={200: {"content": {XLSX_TYPE: {}}, "description": "the template workbook"}},
)
def download_campaign_sheet_template(principal: CampaignManager, session: SessionDep) -> Any:
    """The columns, the brand's templates, regions, partners, modes and policies as dropdowns,
    and an example row that validates as it is."""
    return Response(
        campaign_sheet_template(session, principal.brand_id),
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": 'attachment; filename="campaign-sheet.xlsx"'},
    )


@router.post(
    "/campaign-sheets",
    summary="Upload a campaign sheet",
    response_model=CampaignSheetRead,
    status_code=202,
    responses={200: {"model": CampaignSheetRead, "description": "this file was uploaded before"}},
)
async def upload_campaign_sheet(
    principal: CampaignManager,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    rid: RequestIdDep,
    file: SheetFile,
    response: Response,
) -> CampaignSheetRead:
    """202: the import started (state `validating`; read the sheet until it is `ready` or
    `invalid`); also for the same file again once its import ended `invalid` or `failed`
    with nothing created: a fresh import of that sheet. 200: the brand uploaded this very
    file before (same SHA-256) and its import is live or created campaigns: its sheet
    answered. 422 on `file` for a file refused as a whole (not a spreadsheet, a zip bomb,
    formulas, empty, too many rows); nothing is stored then. 413 past the size limit."""
    data = await read_upload(file, settings)
    sheet, created = await store.upload_sheet(
        session, client.get, Actor(principal, rid), settings, file.filename or "", data
    )
    if not created:
        response.status_code = 200
    return store.sheet_read(sheet)


@router.get(
    "/campaign-sheets", summary="List campaign sheets", response_model=Page[CampaignSheetRead]
)
def list_campaign_sheets(
    principal: CampaignReader,
    session: SessionDep,
    paging: PagingDep,
    sort: str = store.SHEETS.sort_query(),
) -> Page[CampaignSheetRead]:
    result = store.list_sheets(session, principal, paging, sort)
    return page_of(result, paging, [store.sheet_read(s) for s in result.items])


@router.get(
    "/campaign-sheets/{sheet_id}",
    summary="Read a campaign sheet",
    response_model=CampaignSheetRead,
)
def read_campaign_sheet(
    principal: CampaignReader, session: SessionDep, sheet_id: int
) -> CampaignSheetRead:
    """Its state, every problem (sheet, row, column, message) and the progress."""
    return store.sheet_read(store.load_sheet(session, principal, sheet_id))


@router.post(
    "/campaign-sheets/{sheet_id}/confirm",
    summary="Confirm a campaign sheet: create and launch its rows",
    response_model=CampaignSheetRead,
    status_code=202,
)
async def confirm_campaign_sheet(
    principal: CampaignManager,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
    sheet_id: int,
) -> CampaignSheetRead:
    """409 unless the sheet is `ready` (validated without problems, not confirmed yet, not
    expired). The rows are created and launched in the background: follow `rows_done`."""
    sheet = store.load_sheet(session, principal, sheet_id, Permission.campaign_manage)
    sheet = await store.confirm_sheet(session, client.get, Actor(principal, rid), sheet)
    return store.sheet_read(sheet)
