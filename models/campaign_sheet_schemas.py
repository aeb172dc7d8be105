"""API shapes of campaign sheets (the contract the client and CLI code against)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from domain.states import CampaignSheetState


class SheetProblem(BaseModel):
    sheet: str = Field(description="the worksheet's name ('csv' for a CSV file)")
    row: int = Field(description="the spreadsheet's row number (the header is row 1; 0: none)")
    column: str = Field(description="the column's header")
    message: str


class CampaignSheetRead(BaseModel):
    id: int
    filename: str
    sha256: str
    state: CampaignSheetState
    rows_total: int
    rows_done: int = Field(description="rows created and launched so far")
    problems: list[SheetProblem]
    campaign_ids: list[int] = Field(description="the campaigns created, in row order")
    workflow_id: str
    created_at: datetime
    updated_at: datetime
