"""Templates (brand-owned) and their versions; a published version never changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from domain.states import TemplateState
from models.base import EnumText, utcnow


class Template(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class TemplateVersion(SQLModel, table=True):
    """The database projection of a version; its lifecycle state is owned by its workflow."""

    __table_args__ = (UniqueConstraint("template_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    template_id: int = Field(foreign_key="template.id", index=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    number: int = Field(ge=1)
    state: TemplateState = Field(
        default=TemplateState.draft, sa_type=EnumText(TemplateState, 32), index=True
    )
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The brand blocks this version renders with (services.brand_blocks.snapshot): copied when
    # the version is created and again when it is submitted, frozen from then on. {} for
    # versions made before brand blocks existed: they render without blocks.
    blocks: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSON, nullable=False, server_default=text("'{}'")),
    )
    author_id: int = Field(foreign_key="user.id")
    submitted_by: int | None = Field(default=None, foreign_key="user.id")
    decided_by: int | None = Field(default=None, foreign_key="user.id")
    decision_comment: str | None = Field(default=None, max_length=2000)
    workflow_id: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = Field(default=None)
