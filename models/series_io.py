"""What SeriesOccurrenceWorkflow and the standing approval check exchange with activities."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from models.workflow_io import ActorRef


class SeriesOccurrenceInput(BaseModel):
    series_id: int
    scheduled_at: datetime | None = Field(
        None,
        description="the occurrence's time; None: the Schedule's own (TemporalScheduledStartTime)",
    )


class OccurrenceOutcome(BaseModel):
    series_id: int
    occurs_on: date
    state: str
    campaign_id: int | None = None
    reason: str = ""


class StandingQuery(BaseModel):
    campaign_id: int
    partner_id: int
    values: dict[str, Any]


class StandingAnswer(BaseModel):
    """`actor`: the GM whose standing approval covers this content; None: ask as usual
    (`reason` says why when a standing approval exists but does not cover it)."""

    actor: ActorRef | None = None
    note: str = ""
    reason: str = ""
