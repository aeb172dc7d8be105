"""The one way portal pages read an uploaded sheet from a multipart form."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import UploadFile

from api.routers.campaign_sheets import read_upload
from core.errors import Problem
from core.settings import Settings
from i18n.translate import gettext


async def form_sheet(request: Request, settings: Settings) -> tuple[str, bytes]:
    """The form's `file` part as (filename, bytes): 422 when no file was chosen, 413 past
    CAMPAIGN_SHEET_MAX_BYTES (the same limit as the API)."""
    form = await request.form()
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise Problem(
            gettext("file: choose a sheet to upload"), status=422, title=gettext("No file")
        )
    return file.filename or "", await read_upload(file, settings)
