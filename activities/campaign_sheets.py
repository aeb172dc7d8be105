"""CampaignSheetWorkflow's activities: thin wrappers over services.campaign_sheets.creation
(the database work) with the worker's client for launches."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine
from temporalio import activity

from models.campaign_sheet_io import SheetChecked, SheetConfirm, SheetProgress, SheetRows
from services.campaign_sheets import creation


class CampaignSheetActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name="validate_campaign_sheet")
    async def validate_campaign_sheet(self, sheet_id: int) -> SheetChecked:
        return await asyncio.to_thread(creation.validate_sheet, self._engine, sheet_id)

    @activity.defn(name="begin_campaign_sheet")
    async def begin_campaign_sheet(self, sheet_id: int, confirm: SheetConfirm) -> SheetChecked:
        return await asyncio.to_thread(creation.begin_sheet, self._engine, sheet_id, confirm)

    @activity.defn(name="create_campaign_sheet_rows")
    async def create_campaign_sheet_rows(self, job: SheetRows) -> SheetProgress:
        return await creation.create_rows(self._engine, activity.client(), job)

    @activity.defn(name="finish_campaign_sheet")
    async def finish_campaign_sheet(self, sheet_id: int) -> SheetProgress:
        return await asyncio.to_thread(creation.finish_sheet, self._engine, sheet_id)

    @activity.defn(name="expire_campaign_sheet")
    async def expire_campaign_sheet(self, sheet_id: int) -> SheetProgress:
        return await asyncio.to_thread(creation.expire_sheet, self._engine, sheet_id)
