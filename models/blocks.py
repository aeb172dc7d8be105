"""Brand blocks: one header and one footer per brand, versioned; fields are validated by
content.blocks before they are stored here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import utcnow


class BrandBlock(SQLModel, table=True):
    """The brand's current block of one kind; `version` grows by one on every change (the
    audit trail keeps what each version held)."""

    __table_args__ = (UniqueConstraint("brand_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    kind: str = Field(max_length=16)  # content.blocks.BlockKind
    version: int = Field(default=1, ge=1)
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_by: int = Field(foreign_key="user.id")
    updated_at: datetime = Field(default_factory=utcnow)
