"""Campaign series activities: open an occurrence (with the worker's client, for the launch)
and answer whether a standing approval covers a submission. Thin wrappers over
services.series."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine
from temporalio import activity

from core.settings import Settings
from models.series_io import OccurrenceOutcome, SeriesOccurrenceInput, StandingAnswer, StandingQuery
from services.series import occurrences, standing


class SeriesActivities:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings

    @activity.defn(name="open_series_occurrence")
    async def open_series_occurrence(self, inp: SeriesOccurrenceInput) -> OccurrenceOutcome:
        assert inp.scheduled_at is not None
        return await occurrences.open_occurrence(
            self._engine,
            activity.client(),
            inp.series_id,
            inp.scheduled_at,
            task_queue=self._settings.temporal_task_queue,
            delivery_task_queue=self._settings.temporal_delivery_task_queue,
        )

    @activity.defn(name="standing_approval_for")
    async def standing_approval_for(self, query: StandingQuery) -> StandingAnswer:
        return await asyncio.to_thread(standing.standing_for, self._engine, query)
