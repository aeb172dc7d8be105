"""Reporting's facts and aggregates.

Facts are written where the thing happens, by the code that already writes it: a transition
by the partner campaign's projection activity (same transaction, same event key), a refused
save or submit by the API's validation, a cycle time when a transition ends a wait. Reports
never read Temporal histories.

Every table copies brand, region, partner and campaign ids (no foreign keys: reporting copies,
never edited) so reports group without joins. Times are UTC.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel, col

from models.base import utcnow
from models.delivery import Delivery, DeliveryEvent


class TransitionFact(SQLModel, table=True):
    """One timeline entry of a partner campaign (state changes and the notes that change no
    state: vote, remind, escalate), keyed like its audit event."""

    __table_args__ = (
        Index("ix_transitionfact_brand_at", "brand_id", "at"),
        Index("ix_transitionfact_campaign_to_state", "campaign_id", "to_state"),
        Index("ix_transitionfact_partner_campaign_seq", "partner_campaign_id", "seq"),
        # Submissions and escalations in a period (quality, time to market).
        Index("ix_transitionfact_brand_event_at", "brand_id", "event", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=240, unique=True, description="the audit event's key")
    brand_id: int
    region_id: int
    partner_id: int
    campaign_id: int
    partner_campaign_id: int
    seq: int
    event: str = Field(max_length=32)
    from_state: str = Field(max_length=24)
    to_state: str = Field(max_length=24)
    stage: str | None = Field(default=None, max_length=40, description="the stage it concerns")
    next_stage: str | None = Field(
        default=None, max_length=40, description="the stage waiting after"
    )
    actor_id: int | None = None
    on_behalf_of: int | None = None
    revision: int = 0
    at: datetime


class CycleKind(StrEnum):
    """Which wait a cycle time measures."""

    to_submission = "to_submission"  # invitation (open) -> first submission
    to_approval = "to_approval"  # a submission -> its chain's final approval
    stage = "stage"  # one approval stage: waiting -> decided (approved, advanced, refused)


class CycleTime(SQLModel, table=True):
    """One finished wait, written by the projection of the transition that ends it; medians
    and p90s read this table directly."""

    __table_args__ = (
        # Covering on PostgreSQL: time to market's medians and p90s read the index alone.
        Index(
            "ix_cycletime_brand_kind_ended",
            "brand_id",
            "kind",
            "ended_at",
            postgresql_include=["region_id", "stage", "outcome", "seconds"],
        ),
        Index("ix_cycletime_campaign_kind", "campaign_id", "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=260, unique=True, description="transition key + kind")
    brand_id: int
    region_id: int
    partner_id: int
    campaign_id: int
    partner_campaign_id: int
    kind: str = Field(max_length=16)
    stage: str | None = Field(default=None, max_length=40)
    outcome: str = Field(max_length=32, description="the event that ended the wait")
    started_at: datetime
    ended_at: datetime
    seconds: int


class ContentRefusal(SQLModel, table=True):
    """One content rule that refused a partner's save or submit: an error the platform caught
    before it reached an approver (the rule is the validation error's code)."""

    __table_args__ = (Index("ix_contentrefusal_brand_at", "brand_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int
    region_id: int
    partner_id: int
    campaign_id: int
    partner_campaign_id: int = Field(index=True)
    actor_id: int | None = None
    action: str = Field(max_length=16, description="save or submit")
    rule: str = Field(max_length=40)
    field: str = Field(max_length=100)
    at: datetime = Field(default_factory=utcnow)


class ReportDaily(SQLModel, table=True):
    """A day's count of one metric for one partner campaign's (brand, region, partner,
    campaign) on one channel, written by the rollup for days it has closed. Metrics are
    additive over days (see services.reporting.metrics), so any period is a sum."""

    __table_args__ = (
        UniqueConstraint(
            "brand_id",
            "day",
            "campaign_id",
            "partner_id",
            "channel",
            "metric",
            name="uq_reportdaily",
        ),
        Index("ix_reportdaily_brand_metric_day", "brand_id", "metric", "day"),
        Index("ix_reportdaily_campaign_metric", "campaign_id", "metric"),
        # A region's sums (region managers, a partner's region median), from the index alone
        # on PostgreSQL.
        Index(
            "ix_reportdaily_brand_region_day",
            "brand_id",
            "region_id",
            "day",
            postgresql_include=["metric", "channel", "partner_id", "campaign_id", "value"],
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int
    day: date
    region_id: int
    partner_id: int
    campaign_id: int
    channel: str = Field(default="email", max_length=16)
    metric: str = Field(max_length=48)
    value: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class RollupWatermark(SQLModel, table=True):
    """Up to (excluding) which day a brand's ReportDaily rows are complete: reports sum the
    aggregates before it and read live tables from it on."""

    brand_id: int = Field(primary_key=True)
    closed_until: date
    updated_at: datetime = Field(default_factory=utcnow)


# Reporting's live counts (services.reporting.metrics, the days after a brand's watermark) read
# the delivery ledger and its events by brand and time: their indexes are declared here, next to
# the reads that need them (migration e20b0b3c0002).
Index("ix_delivery_brand_created_at", col(Delivery.brand_id), col(Delivery.created_at))
Index("ix_delivery_brand_sent_at", col(Delivery.brand_id), col(Delivery.sent_at))
Index("ix_delivery_brand_updated_at", col(Delivery.brand_id), col(Delivery.updated_at))
Index("ix_deliveryevent_brand_at", col(DeliveryEvent.brand_id), col(DeliveryEvent.at))
