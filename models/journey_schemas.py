"""What the journeys API takes and answers (services.journeys.reads builds the answers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.journeys import ActivationState, JourneyState

SPEC_HELP = (
    "the design (models.journey_spec.JourneySpec): trigger, entry, steps (send, wait, branch, "
    "end) and exit rule; docs/journeys.md has an example"
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JourneyCreate(_Body):
    key: str = Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_-]*$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    spec: dict[str, Any] = Field(description=SPEC_HELP)


class JourneyVersionCreate(_Body):
    spec: dict[str, Any] = Field(description=SPEC_HELP)
    note: str = Field("", max_length=500, description="what changed")


class SwitchOnBody(_Body):
    values: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="the partner's content per send step: {step_id: {slot: value}}; a step "
        "left out takes HQ's defaults",
    )


class SwitchOffBody(_Body):
    reason: str = Field("", max_length=1000)


class ActivationDecideBody(_Body):
    decision: Literal["approve", "request_changes", "reject"]
    comment: str | None = Field(None, max_length=2000)


class JourneyVersionRead(BaseModel):
    version: int
    spec: dict[str, Any]
    note: str
    created_by: int
    created_at: datetime


class Counts(BaseModel):
    """Enrolments per state and sends per status (the run side writes them)."""

    running: int = 0
    completed: int = 0
    exited: int = 0
    sent: int = 0
    sends: dict[str, int] = Field(default_factory=dict)


class JourneyRead(BaseModel):
    id: int
    key: str
    name: str
    description: str
    state: JourneyState
    current_version: int
    created_at: datetime
    updated_at: datetime
    active_partners: int = 0


class JourneyDetail(JourneyRead):
    versions: list[JourneyVersionRead]
    summary: list[str] = Field(description="what the current version does, in words")


class DiagramRead(BaseModel):
    journey_id: int
    version: int
    mermaid: str


class ActivationRead(BaseModel):
    id: int
    journey_id: int
    partner_id: int
    partner_name: str
    version: int
    state: ActivationState
    values: dict[str, Any]
    reason: str
    switched_on_by: int | None
    switched_on_at: datetime | None
    approved_at: datetime | None
    switched_off_by: int | None
    switched_off_at: datetime | None
    counts: Counts
