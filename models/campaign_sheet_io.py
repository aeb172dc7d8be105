"""What CampaignSheetWorkflow and its activities exchange (plain data, safe to pass into the
workflow sandbox)."""

from __future__ import annotations

from pydantic import BaseModel


class SheetInput(BaseModel):
    sheet_id: int
    brand_id: int
    filename: str
    # Where the campaigns the sheet launches run (the API's settings at upload).
    task_queue: str
    delivery_task_queue: str
    confirm_within: int  # seconds a ready sheet waits for HQ's confirmation


class SheetChecked(BaseModel):
    """The outcome of checking every row: ok, or `problems` of them."""

    ok: bool
    rows_total: int
    problems: int = 0


class SheetConfirm(BaseModel):
    user_id: int  # who confirmed: the campaigns are created and launched as this user


class SheetRows(BaseModel):
    """Rows [start, stop) of the sheet (positions in its row list), created and launched."""

    sheet_id: int
    user_id: int
    start: int
    stop: int
    task_queue: str
    delivery_task_queue: str


class SheetProgress(BaseModel):
    sheet_id: int
    state: str
    rows_total: int = 0
    rows_done: int = 0
