"""API shapes for campaigns, partner campaigns and the task inbox.

Cross-field rules live in small functions shared by the create schema (which sees every field)
and the PATCH service (which checks the merged result of stored and new values), so both
answer with the same message on the same field.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from approvals.builtin import BuiltinPolicy
from domain.states import CampaignMode, PartnerCampaignState, TaskKind
from models.base import ZonedDatetime

Name = Annotated[str, Field(min_length=1, max_length=200)]
TARGET_KEYS = ("all", "regions", "partners")
DEFAULT_REMIND = timedelta(days=2)
DEFAULT_ESCALATE = timedelta(days=4)


def parse_target(value: Any) -> dict[str, Any]:
    """{"all": true} | {"regions": [ids]} | {"partners": [ids]}, normalised (sorted, unique)."""
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(
            'must be exactly one of {"all": true}, {"regions": [...]}, {"partners": [...]}'
        )
    key, ids = next(iter(value.items()))
    if key not in TARGET_KEYS:
        raise ValueError(f"unknown key {key!r}: use one of {', '.join(TARGET_KEYS)}")
    if key == "all":
        if ids is not True:
            raise ValueError('"all" must be true')
        return {"all": True}
    if not isinstance(ids, list) or not ids:
        raise ValueError(f'"{key}" must be a non-empty list of ids')
    if any(isinstance(i, bool) or not isinstance(i, int) or i < 1 for i in ids):
        raise ValueError(f'"{key}" must contain positive integer ids')
    return {key: sorted(set(ids))}


def clean_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC, so a client omitting the offset still gets a
    well-defined deadline."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def check_window(personalise_until: datetime, send_by: datetime) -> None:
    if as_utc(send_by) <= as_utc(personalise_until):
        raise ValueError("must be after personalise_until")


# A campaign's approval: a built-in policy by name, or one of the brand's policies by id.
PolicyChoice = BuiltinPolicy | int


def check_policy(mode: str, approval_policy: PolicyChoice | str) -> None:
    """Without approval nobody reviews what goes out: only acceptable when HQ's defaults are
    what goes out unless a partner opts out."""
    if approval_policy == BuiltinPolicy.none and mode != CampaignMode.opt_out:
        raise ValueError('"none" is only allowed with mode opt_out')


def check_positive(value: timedelta) -> None:
    if value.total_seconds() < 1:
        raise ValueError("must be at least one second")


def check_escalation(remind_after: timedelta, escalate_after: timedelta) -> None:
    if escalate_after < remind_after:
        raise ValueError("must not be shorter than remind_after")


class CampaignCreate(BaseModel):
    """Field order matters: validators read the fields declared before them (info.data)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Spring open day",
                    "template_version_id": 1,
                    "target": {"regions": [1, 2]},
                    "personalise_until": "2030-05-10T17:00:00+02:00",
                    "send_by": "2030-05-20T09:00:00+02:00",
                    "mode": "opt_in",
                    "approval_policy": "gm",
                    "defaults": {"headline": "Open day at our club"},
                }
            ]
        },
    )

    name: Name
    template_version_id: int
    target: dict[str, Any]
    personalise_until: ZonedDatetime
    send_by: ZonedDatetime
    mode: CampaignMode = CampaignMode.opt_in
    approval_policy: PolicyChoice = Field(
        BuiltinPolicy.gm,
        description="a built-in policy (gm, gm_then_hq, none) or the id of one of the brand's "
        "approval policies (its current version is pinned at launch)",
    )
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

    @field_validator("send_by")
    @classmethod
    def _send_by(cls, v: datetime, info: ValidationInfo) -> datetime:
        if "personalise_until" in info.data:
            check_window(info.data["personalise_until"], v)
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


class CampaignUpdate(BaseModel):
    """PATCH of a draft: only the fields sent change; the service checks the merged result."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    template_version_id: int | None = None
    target: dict[str, Any] | None = None
    personalise_until: ZonedDatetime | None = None
    send_by: ZonedDatetime | None = None
    mode: CampaignMode | None = None
    approval_policy: PolicyChoice | None = None
    remind_after: timedelta | None = None
    escalate_after: timedelta | None = None
    defaults: dict[str, Any] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        return None if v is None else clean_name(v)

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, v: Any) -> dict[str, Any] | None:
        return None if v is None else parse_target(v)

    @field_validator("remind_after", "escalate_after")
    @classmethod
    def _positive(cls, v: timedelta | None) -> timedelta | None:
        if v is not None:
            check_positive(v)
        return v


class CampaignRead(BaseModel):
    id: int
    brand_id: int
    name: str
    template_version_id: int
    target: dict[str, Any]
    personalise_until: datetime
    send_by: datetime
    mode: str
    approval_policy: str = Field(description="the built-in policy's or the brand policy's name")
    approval_policy_id: int | None = None
    approval_policy_version_id: int | None = Field(None, description="pinned at launch")
    remind_after: timedelta
    escalate_after: timedelta
    defaults: dict[str, Any]
    state: str
    counts: dict[str, int] = Field(description="partner campaigns per state")
    summary: dict[str, Any]
    workflow_id: str | None
    created_by: int
    launched_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RegionCountsRead(BaseModel):
    region_id: int
    region_name: str
    counts: dict[str, int] = Field(description="the region's partner campaigns per state")
    total: int


class CampaignDetail(CampaignRead):
    """One campaign as GET /campaigns/{id} answers it: with its partner campaigns counted per
    region and state (those the caller may read), from one grouped query."""

    by_region: list[RegionCountsRead] = Field(default_factory=list)


class PartnerCampaignRead(BaseModel):
    id: int
    campaign_id: int
    campaign_name: str
    partner_id: int
    partner_name: str
    region_id: int
    state: PartnerCampaignState
    values: dict[str, Any]
    locale: str
    send_at: datetime | None
    submitted_by: int | None
    decided_by: int | None
    decision_comment: str | None
    revision: int = Field(0, description="submissions so far; a decision may name the one seen")
    escalation_level: int
    approval: StageRead | None = Field(None, description="the approval stage waiting now")
    approval_policy_version_id: int | None = None
    workflow_id: str
    segment_id: int | None = None
    audience: dict[str, int] | None = Field(
        None,
        description="who the send reaches: matching, eligible, suppressed, no_consent (live "
        "until the send's snapshot, then as snapshotted); only on single reads",
    )
    created_at: datetime
    updated_at: datetime


class StageRead(BaseModel):
    """An approval stage as people see it: its name, who decides, how far it got."""

    name: str
    label: str
    deciders: list[str] = Field(description="who may decide, in words")
    rule: str
    required: int
    approvals: int
    blocked: str | None = Field(
        None, description="why the stage cannot pass with the people who hold its roles now"
    )


class TaskRead(BaseModel):
    id: int
    kind: TaskKind
    partner_campaign_id: int
    campaign_id: int
    campaign_name: str
    partner_id: int
    partner_name: str
    state: PartnerCampaignState = Field(description="the partner campaign's state")
    due_at: datetime | None
    overdue: bool
    escalation_level: int
    stage: StageRead | None = Field(None, description="approve tasks: the stage to decide")
    on_behalf_of: int | None = Field(
        None, description="you would decide as the delegate of this user (on holiday)"
    )
    created_at: datetime
