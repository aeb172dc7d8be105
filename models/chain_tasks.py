"""The open stage of an approval chain that decides something other than a partner campaign
(a print order, a claim): written by the chain's workflow through an activity, read by the
API and the portal to say who may decide now (approvals.engine.may_decide)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.money import ChainSubject
from models.base import EnumText, utcnow


class ChainTask(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("subject", "subject_id"),)

    id: int | None = Field(default=None, primary_key=True)
    subject: ChainSubject = Field(sa_type=EnumText(ChainSubject, 32))
    subject_id: int = Field(index=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    region_id: int = Field(foreign_key="region.id")
    partner_id: int = Field(foreign_key="partner.id", index=True)
    open: bool = Field(default=True, index=True)
    stage: str | None = Field(default=None, max_length=40)
    stage_label: str = Field(default="", max_length=100)
    approvers: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    excluded_user_ids: list[int] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    required: int = 1
    approvals: int = 0
    due_at: datetime | None = None
    escalation_level: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
