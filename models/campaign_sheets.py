"""Campaign sheets: an uploaded campaign plan (XLSX or CSV), one row per campaign, imported by
CampaignSheetWorkflow (services/campaign_sheets, docs/campaign-sheets.md).

The row keeps the parsed cells (every cell as text, by column name), never the file: the rows
are what is validated and created, and a sheet is answered again by its SHA-256 (unique per
brand), so the same file uploaded twice is one import; once that import has ended without
creating anything (invalid, expired, refused), the same file starts a fresh one on this row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.states import CampaignSheetState
from models.base import EnumText, utcnow


class CampaignSheet(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("brand_id", "sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    filename: str = Field(max_length=255)
    sha256: str = Field(max_length=64)
    state: CampaignSheetState = Field(
        default=CampaignSheetState.validating, sa_type=EnumText(CampaignSheetState, 16)
    )
    # The sheet's name (XLSX worksheet title, "csv" for a CSV file), its header, and one
    # {column: text} per data row; row numbers are the spreadsheet's (header is row 1).
    sheet_name: str = Field(default="", max_length=100)
    columns: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    rows: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    problems: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # {"<row number>": campaign id} for every row created and launched (rows_done is its size).
    results: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    workflow_id: str = Field(max_length=200)
    # 1 for the first import of the file; an upload of the same bytes after the sheet ended
    # `invalid` or `failed` with nothing created starts import attempt+1 on this row, with a
    # workflow id of its own (services/campaign_sheets/store.py).
    attempt: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    uploaded_by: int = Field(foreign_key="user.id")
    confirmed_by: int | None = Field(default=None, foreign_key="user.id")
    expires_at: datetime
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
