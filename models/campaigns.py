"""Campaigns (HQ), partner campaigns (one per target partner) and the approval inbox.

The rows are the database projection of the workflows: lists, inboxes and dashboards read them;
the lifecycle itself is owned by CampaignWorkflow and PartnerCampaignWorkflow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from domain.states import CampaignMode, CampaignState, PartnerCampaignState, TaskKind
from models.base import EnumText, utcnow


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
    # A built-in policy's name (gm, gm_then_hq, none) or the name of the brand's policy
    # `approval_policy_id`; the version is pinned at launch for every partner campaign.
    approval_policy: str = Field(default="gm", max_length=100)
    approval_policy_id: int | None = Field(default=None, foreign_key="approvalpolicy.id")
    approval_policy_version_id: int | None = Field(
        default=None, foreign_key="approvalpolicyversion.id"
    )
    remind_after: int = Field(default=2 * 86400, description="seconds")
    escalate_after: int = Field(default=4 * 86400, description="seconds")
    defaults: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: CampaignState = Field(
        default=CampaignState.draft, sa_type=EnumText(CampaignState, 16), index=True
    )
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
    __table_args__ = (
        UniqueConstraint("campaign_id", "partner_id"),
        # Counts per campaign, state and region (list pages, the campaign page) read the index
        # alone, never the wide rows: a campaign to 10,000 partners is 10,000 index entries.
        Index("ix_partnercampaign_campaign_region_state", "campaign_id", "region_id", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    region_id: int = Field(foreign_key="region.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    state: PartnerCampaignState = Field(
        default=PartnerCampaignState.invited, sa_type=EnumText(PartnerCampaignState, 24), index=True
    )
    approval_stage: str | None = Field(
        default=None, max_length=40, description="the approval stage waiting now"
    )
    approval_policy_version_id: int | None = Field(
        default=None, foreign_key="approvalpolicyversion.id", description="the pinned version"
    )
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


class ApprovalTask(SQLModel, table=True):
    """An open piece of work for someone: written by activities (upserts keyed by the partner
    campaign and kind), read by /tasks and the portal's inbox."""

    __table_args__ = (
        UniqueConstraint("partner_campaign_id", "kind"),
        # The inbox and /tasks read a brand's open tasks newest first by keyset: without it
        # PostgreSQL sorted all 170,400 open tasks of a 10,000-partner brand for every page.
        Index(
            "ix_approvaltask_open_brand_created",
            "brand_id",
            "created_at",
            "id",
            postgresql_where=text("open IS TRUE"),
            sqlite_where=text("open IS 1"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_campaign_id: int = Field(foreign_key="partnercampaign.id", index=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    region_id: int = Field(foreign_key="region.id")
    partner_id: int = Field(foreign_key="partner.id", index=True)
    kind: TaskKind = Field(sa_type=EnumText(TaskKind, 16))
    open: bool = Field(default=True, index=True)
    due_at: datetime | None = None
    escalation_level: int = 0
    # An approval task's stage, as approvals.engine.may_decide reads it: who the stage names
    # (approvals.policy.Approver as JSON) and who may not decide it (submitter, voters).
    stage: str | None = Field(default=None, max_length=40)
    stage_label: str = Field(default="", max_length=100)
    approvers: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    excluded_user_ids: list[int] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    required: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    approvals: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Why nobody (or too few) can decide the stage with the roles held now; None when staffed.
    blocked: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
