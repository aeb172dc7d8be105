"""Campaigns (HQ), partner campaigns (one per target partner) and the approval inbox.

The rows are the database projection of the workflows: lists, inboxes and dashboards read them;
the lifecycle itself is owned by CampaignWorkflow and PartnerCampaignWorkflow.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import utcnow


class CampaignState(StrEnum):
    draft = "draft"
    running = "running"
    completed = "completed"
    cancelled = "cancelled"


class CampaignMode(StrEnum):
    opt_in = "opt_in"
    opt_out = "opt_out"


class ApprovalPolicy(StrEnum):
    gm = "gm"
    gm_then_hq = "gm_then_hq"
    none = "none"


class Campaign(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("brand_id", "idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    name: str = Field(max_length=200)
    template_version_id: int = Field(foreign_key="templateversion.id")
    target: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    personalise_until: datetime
    send_by: datetime
    mode: str = Field(default=CampaignMode.opt_in.value, sa_type=String(16))
    approval_policy: str = Field(default=ApprovalPolicy.gm.value, sa_type=String(16))
    remind_after: int = Field(default=2 * 86400, description="seconds")
    escalate_after: int = Field(default=4 * 86400, description="seconds")
    defaults: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = Field(default=CampaignState.draft.value, sa_type=String(16), index=True)
    # "<user id>:<the caller's key>": a key belongs to the user who sent it (see
    # services.campaigns.create_campaign); the fingerprint is the request body's digest.
    idempotency_key: str | None = Field(default=None, max_length=240)
    idempotency_fingerprint: str | None = Field(default=None, max_length=64)
    workflow_id: str | None = Field(default=None, max_length=200)
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: int = Field(foreign_key="user.id")
    launched_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class PartnerCampaign(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("campaign_id", "partner_id"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    region_id: int = Field(foreign_key="region.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    state: str = Field(default="invited", sa_type=String(24), index=True)
    values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    locale: str = Field(default="en", max_length=8)
    send_at: datetime | None = None
    submitted_by: int | None = Field(default=None, foreign_key="user.id")
    decided_by: int | None = Field(default=None, foreign_key="user.id")
    decision_comment: str | None = Field(default=None, max_length=2000)
    escalation_level: int = 0
    revision: int = Field(
        default=0, sa_column_kwargs={"server_default": "0"}, description="submissions so far"
    )
    last_seq: int = 0
    segment_id: int | None = Field(default=None, description="named at submit; None: everyone")
    audience: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSON, nullable=False),
        description="the audience breakdown at the send's snapshot",
    )
    workflow_id: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class TaskKind(StrEnum):
    personalise = "personalise"
    approve_gm = "approve_gm"
    approve_hq = "approve_hq"


class ApprovalTask(SQLModel, table=True):
    """An open piece of work for someone: written by activities (upserts keyed by the partner
    campaign and kind), read by /tasks and the portal's inbox."""

    __table_args__ = (UniqueConstraint("partner_campaign_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_campaign_id: int = Field(foreign_key="partnercampaign.id", index=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    region_id: int = Field(foreign_key="region.id")
    partner_id: int = Field(foreign_key="partner.id", index=True)
    kind: str = Field(sa_type=String(16))
    open: bool = Field(default=True, index=True)
    due_at: datetime | None = None
    escalation_level: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
