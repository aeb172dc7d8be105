"""API shapes for approval policies (list, create, read, versions, diagram, explain) and the
caller's delegations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from approvals.policy import ApproverRole, PolicySpec, Rule, TimeoutAction
from models.base import ZonedDatetime

PolicyName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"\S")]
INT64_MAX = 2**63 - 1


class PolicyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: PolicyName
    description: str = Field("", max_length=2000)
    spec: PolicySpec


class PolicyVersionCreate(BaseModel):
    """A new version of the policy: the whole chain again (versions are never edited)."""

    model_config = ConfigDict(extra="forbid")
    spec: PolicySpec


class PolicyVersionRead(BaseModel):
    id: int
    number: int
    created_by: int
    created_at: datetime


class PolicyRead(BaseModel):
    key: str = Field(
        description="what the URL takes: the policy's id, or a built-in policy's name (gm, "
        "gm_then_hq, none)"
    )
    id: int | None = Field(None, description="None for the built-in policies")
    builtin: bool
    name: str
    description: str
    current_version: int | None = Field(None, description="None for the built-in policies")
    current_version_id: int | None = None
    archived_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    spec: PolicySpec = Field(description="the current version's chain")


class PolicyDetail(PolicyRead):
    versions: list[PolicyVersionRead] = Field(
        default_factory=list, description="every version, oldest first (none for built-ins)"
    )


class ApproverRead(BaseModel):
    role: ApproverRole | None = None
    user_id: int | None = None
    name: str = Field(description="the role in words, or the named user's name")


class TimeoutRead(BaseModel):
    after: int = Field(description="seconds after the stage began")
    action: TimeoutAction
    to: list[ApproverRead] = Field(default_factory=list)


class DiagramStage(BaseModel):
    name: str
    label: str
    approvers: list[ApproverRead]
    rule: Rule
    quorum: int | None = None
    when: str | None = Field(None, description="the condition in words; None: always")
    timeouts: list[TimeoutRead] = Field(default_factory=list)


class DiagramRead(BaseModel):
    key: str
    name: str
    version: int | None = Field(None, description="the version drawn (None for built-ins)")
    mermaid: str = Field(description="a mermaid flowchart of the chain")
    stages: list[DiagramStage]


class Person(BaseModel):
    id: int
    name: str


class ExplainedStageRead(BaseModel):
    name: str
    label: str
    applies: bool
    because: str = Field(description="the condition that made it apply, or that skipped it")
    condition: str | None = Field(None, description="the stage's condition; None: always")
    approvers: list[ApproverRead]
    rule: Rule
    required: int = Field(description="approvals that would pass the stage")
    people: list[Person] = Field(description="who would decide, as the roles are held now")
    staffing_gap: str | None = Field(
        None, description="why the stage could not pass with the people who hold its roles now"
    )


class ExplainFacts(BaseModel):
    audience_size: int | None
    expected_cost: int | None = Field(None, description="minor units; None: no cost rate")
    fund_shortfall: int | None = Field(
        None, description="HQ's expected share minus the fund's available money; None: no fund"
    )
    template_tags: list[str]
    region_id: int | None
    channel: str


class ExplainRead(BaseModel):
    """A dry run: nothing is submitted or changed."""

    key: str
    name: str
    version: int | None
    partner_campaign_id: int
    segment_id: int | None
    facts: ExplainFacts
    stages: list[ExplainedStageRead]
    approval_needed: bool = Field(description="whether any stage applies")
    problems: list[dict[str, str]] = Field(
        default_factory=list,
        description="why this campaign's template could not run the policy (field, message)",
    )


# Delegations ----------------------------------------------------------------------------------


class Direction(StrEnum):
    given = "given"  # the caller delegated to someone
    received = "received"  # someone delegated to the caller


class DelegationCreate(BaseModel):
    """Name a stand-in (by id or email, one of the two) for a period of at most a year."""

    model_config = ConfigDict(extra="forbid")
    delegate_id: int | None = Field(None, ge=1, le=INT64_MAX)
    delegate_email: str | None = Field(None, min_length=3, max_length=254)
    starts_at: ZonedDatetime
    ends_at: ZonedDatetime
    note: str = Field("", max_length=500)


class DelegationRead(BaseModel):
    id: int
    direction: Direction
    user_id: int = Field(description="the approver who delegated")
    user_name: str
    delegate_id: int
    delegate_name: str
    starts_at: datetime
    ends_at: datetime
    note: str
    active: bool = Field(description="running now")
    created_at: datetime
    revoked_at: datetime | None = None
