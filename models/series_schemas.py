"""The API's shapes for campaign series (create, read, occurrences, standing approvals)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from approvals.builtin import BuiltinPolicy
from domain.series import OccurrenceState, SeriesState
from domain.states import CampaignMode
from models.campaign_schemas import (
    DEFAULT_ESCALATE,
    DEFAULT_REMIND,
    Name,
    PolicyChoice,
    check_escalation,
    check_policy,
    check_positive,
    clean_name,
    parse_target,
)
from models.recurrence import Recurrence, zone


class SeriesCreate(BaseModel):
    """Field order matters: validators read the fields declared before them (info.data)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Monthly club news",
                    "template_version_id": 1,
                    "target": {"regions": [1]},
                    "recurrence": {"monthly": {"nth": 1, "weekday": "monday", "at": "09:00"}},
                    "timezone": "Europe/Berlin",
                    "personalise_for": "P3D",
                    "send_within": "P7D",
                }
            ]
        },
    )

    name: Name = Field(description="each occurrence's campaign is named this plus its date")
    template_version_id: int
    target: dict[str, Any]
    recurrence: Recurrence
    timezone: str | None = Field(
        None,
        max_length=64,
        description="IANA zone the recurrence is read in; default: the zone most of the "
        "brand's partners are in",
    )
    personalise_for: timedelta = Field(
        timedelta(days=3), description="from each occurrence to the end of its window"
    )
    send_within: timedelta = Field(
        timedelta(days=7), description="from each occurrence to its send deadline"
    )
    mode: CampaignMode = CampaignMode.opt_in
    approval_policy: PolicyChoice = BuiltinPolicy.gm
    remind_after: timedelta = DEFAULT_REMIND
    escalate_after: timedelta = Field(DEFAULT_ESCALATE, validate_default=True)
    defaults: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return clean_name(v)

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, v: Any) -> dict[str, Any]:
        return parse_target(v)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is not None:
            zone(v)
        return v

    @field_validator("personalise_for")
    @classmethod
    def _window(cls, v: timedelta) -> timedelta:
        check_positive(v)
        return v

    @field_validator("send_within")
    @classmethod
    def _send(cls, v: timedelta, info: ValidationInfo) -> timedelta:
        if "personalise_for" in info.data and v <= info.data["personalise_for"]:
            raise ValueError("must be longer than personalise_for")
        return v

    @field_validator("approval_policy")
    @classmethod
    def _policy(cls, v: PolicyChoice, info: ValidationInfo) -> PolicyChoice:
        if "mode" in info.data:
            check_policy(info.data["mode"], v)
        return v

    @field_validator("remind_after")
    @classmethod
    def _remind(cls, v: timedelta) -> timedelta:
        check_positive(v)
        return v

    @field_validator("escalate_after")
    @classmethod
    def _escalate(cls, v: timedelta, info: ValidationInfo) -> timedelta:
        check_positive(v)
        if "remind_after" in info.data:
            check_escalation(info.data["remind_after"], v)
        return v


class OccurrenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    occurs_on: date
    scheduled_at: datetime
    state: OccurrenceState
    campaign_id: int | None
    reason: str


class StandingApprovalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partner_campaign_id: int = Field(
        ge=1,
        description="an occurrence's partner campaign whose content (HQ's locked content, "
        "the series' defaults, the partner's values) the GM approves for the occurrences to come",
    )


class StandingApprovalRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    series_id: int
    partner_id: int
    granted_by: int
    from_partner_campaign_id: int
    granted_at: datetime


class SeriesRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    template_version_id: int
    target: dict[str, Any]
    recurrence: Recurrence
    recurrence_text: str = ""
    timezone: str
    personalise_for: int = Field(description="seconds")
    send_within: int = Field(description="seconds")
    mode: str
    approval_policy: str
    defaults: dict[str, Any]
    state: SeriesState
    skip_dates: list[date]
    created_at: datetime


class SeriesDetail(SeriesRead):
    occurrences: list[OccurrenceRead] = Field(description="past occurrences, newest first")
    next_occurrences: list[datetime] = Field(
        description="the coming occurrences in the series' zone (skipped dates left out); "
        "empty when paused or ended"
    )
    standing_approvals: list[StandingApprovalRead] = Field(
        description="the standing approvals within the caller's reach"
    )
