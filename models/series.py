"""Campaign series: HQ's recurring campaign, one row per occurrence, and GMs' standing approvals.

Uniqueness does the exactly-once work: an occurrence is unique per (series, local date), so a
Schedule action fired twice (a retry, a manual trigger on the same day) makes one campaign; a
standing approval is unique per (series, partner) and names the content it approved by its
fingerprint (HQ's locked content and defaults plus the partner's values)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.series import OccurrenceState, SeriesState
from models.base import EnumText, utcnow


class CampaignSeries(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    name: str = Field(max_length=160)
    template_version_id: int = Field(foreign_key="templateversion.id")
    target: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    mode: str = Field(default="opt_in", max_length=16)
    approval_policy: str = Field(default="gm", max_length=100)
    defaults: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # services.series.recurrence.Recurrence as JSON: a cron line or "the nth weekday monthly".
    recurrence: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    timezone: str = Field(default="UTC", max_length=64)
    personalise_for: int = Field(description="seconds from the occurrence to its window's end")
    send_within: int = Field(description="seconds from the occurrence to its send deadline")
    remind_after: int = Field(default=2 * 86400, description="seconds")
    escalate_after: int = Field(default=4 * 86400, description="seconds")
    state: SeriesState = Field(
        default=SeriesState.active, sa_type=EnumText(SeriesState, 16), index=True
    )
    skip_dates: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description="local dates (ISO) HQ skipped ahead of time",
    )
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class SeriesOccurrence(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("series_id", "occurs_on"),)

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(foreign_key="campaignseries.id", index=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    occurs_on: date = Field(description="the occurrence's local date in the series' zone")
    scheduled_at: datetime = Field(description="the Schedule's time for it (UTC)")
    state: OccurrenceState = Field(sa_type=EnumText(OccurrenceState, 16))
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    reason: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)


class StandingApproval(SQLModel, table=True):
    """A GM's "approved while HQ's locked content and our values stay as they are"."""

    __table_args__ = (UniqueConstraint("series_id", "partner_id"),)

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(foreign_key="campaignseries.id", index=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    region_id: int = Field(foreign_key="region.id")
    partner_id: int = Field(foreign_key="partner.id", index=True)
    fingerprint: str = Field(max_length=64)
    granted_by: int = Field(foreign_key="user.id")
    from_partner_campaign_id: int = Field(foreign_key="partnercampaign.id")
    granted_at: datetime = Field(default_factory=utcnow)
