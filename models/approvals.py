"""Approval policies HQ designs (versioned: a change is a new version, and running chains keep
the version they pinned) and delegations (an approver's stand-in for a period)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import utcnow


class ApprovalPolicy(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("brand_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    name: str = Field(max_length=100)
    description: str = Field(default="", max_length=2000)
    current_version: int = Field(default=1)
    archived_at: datetime | None = None
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ApprovalPolicyVersion(SQLModel, table=True):
    """One version's chain (approvals.policy.PolicySpec as JSON); never changed once written."""

    __table_args__ = (UniqueConstraint("policy_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    policy_id: int = Field(foreign_key="approvalpolicy.id", index=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    number: int = Field(ge=1)
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class Delegation(SQLModel, table=True):
    """`delegate_id` decides `user_id`'s approvals between `starts_at` and `ends_at`, in their
    own name (the audit says "on behalf of")."""

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    delegate_id: int = Field(foreign_key="user.id", index=True)
    starts_at: datetime
    ends_at: datetime
    note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
