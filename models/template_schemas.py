"""API shapes for templates and versions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from content.spec import FieldError, Slot, TemplateContent
from models.workflow_io import TimelineEntry


class TemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    content: TemplateContent | None = None


class TemplateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    name: str
    description: str
    created_by: int
    created_at: datetime


class VersionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: TemplateContent | None = Field(
        None, description="Omit to start from the newest version's content"
    )


class VersionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: TemplateContent


class LintIssueRead(BaseModel):
    part: str
    line: int | None
    code: str
    message: str


class VersionRead(BaseModel):
    id: int
    template_id: int
    number: int
    state: str
    slots: list[Slot]
    content: TemplateContent
    lint: list[LintIssueRead]
    author_id: int
    submitted_by: int | None
    decided_by: int | None
    decision_comment: str | None
    published_at: datetime | None
    workflow_id: str
    created_at: datetime
    updated_at: datetime


class TemplateReviewDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "request_changes", "reject"]
    comment: str | None = Field(None, max_length=2000)


class ValuesBody(BaseModel):
    """Partner values to validate or preview, with the context they would be used in."""

    model_config = ConfigDict(extra="forbid")
    values: dict[str, Any] = Field(default_factory=dict)
    locale: str = "en"
    partner_id: int | None = Field(None, description="Default: the brand's first partner")
    window_start: date | None = None
    window_end: date | None = None


class ValidateResult(BaseModel):
    valid: bool
    errors: list[FieldError]


class TimelineEntryRead(TimelineEntry):
    """A timeline entry with the people named (the ids stay for older clients)."""

    actor_name: str = Field(
        description='who acted: full name, else email; "system" for automatic steps'
    )
    on_behalf_of_name: str | None = Field(None, description="the approver a delegate decided for")


class TimelineRead(BaseModel):
    state: str
    timeline: list[TimelineEntryRead]
    diagram: str
