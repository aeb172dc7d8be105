"""What each report answers: plain data the API serialises, the portal draws and the exports
write, so the three never disagree."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

Grouping = Literal["campaign", "region", "partner"]
Period = Literal["week", "month"]

# A region's aggregate is shown to a partner only over at least this many partners, so no
# figure of the region can be traced back to one other partner.
MIN_GROUP = 5

DELIVERY_COLUMNS = (
    "recipients",
    "sent",
    "failed",
    "suppressed",
    "delivered",
    "bounced",
    "complained",
    "unsubscribed",
    "opened",
    "opened_unique",
    "clicked",
    "clicked_unique",
)


@dataclass(frozen=True)
class ReportQuery:
    """The filters every report takes; dates are UTC days, `until` excluded."""

    since: date | None = None
    until: date | None = None
    campaign_id: int | None = None
    region_id: int | None = None
    partner_id: int | None = None
    channel: str | None = None
    group: Grouping = "region"
    period: Period = "week"


@dataclass(frozen=True)
class FunnelRow:
    """Partner campaigns that reached each step (sent ⊂ approved ⊂ submitted ⊂ invited)."""

    key: int | None
    label: str
    invited: int = 0
    drafting: int = 0
    submitted: int = 0
    approved: int = 0
    sent: int = 0
    declined: int = 0
    expired: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class StuckItem:
    partner_campaign_id: int
    campaign_id: int
    campaign_name: str
    partner_id: int
    partner_name: str
    region_name: str
    state: str
    since: datetime


@dataclass(frozen=True)
class FunnelReport:
    rows: list[FunnelRow]
    total: FunnelRow
    stuck: list[StuckItem] = field(default_factory=list)


@dataclass(frozen=True)
class CycleStats:
    label: str
    region_id: int | None
    stage: str | None
    count: int
    median_seconds: float | None
    p90_seconds: float | None


@dataclass(frozen=True)
class OverdueItem:
    task_id: int
    partner_campaign_id: int
    campaign_name: str
    partner_name: str
    region_name: str
    stage_label: str
    holders: list[str]
    due_at: datetime
    overdue_seconds: int
    escalation_level: int


@dataclass(frozen=True)
class TimeToMarketReport:
    to_submission: list[CycleStats]
    to_approval: list[CycleStats]
    stages: list[CycleStats]
    overdue: list[OverdueItem]
    escalations: int
    approval_hours: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class RuleCount:
    rule: str
    label: str
    count: int


@dataclass(frozen=True)
class QualityReport:
    refusals: list[RuleCount]
    refusals_total: int
    submissions: int
    changes_requested: int
    rounds_per_submission: float | None


@dataclass(frozen=True)
class DeliveryRow:
    key: int | None
    label: str
    channel: str
    figures: dict[str, int]


@dataclass(frozen=True)
class DeliveryReport:
    rows: list[DeliveryRow]
    total: list[DeliveryRow]
    tracking_on: bool


@dataclass(frozen=True)
class TrendPoint:
    start: date
    figures: dict[str, int]


@dataclass(frozen=True)
class TrendReport:
    period: Period
    points: list[TrendPoint]


@dataclass(frozen=True)
class Comparison:
    metric: str
    label: str
    own: float | None
    region_median: float | None


@dataclass(frozen=True)
class MyReport:
    partner_id: int
    partner_name: str
    region_name: str
    group_size: int
    comparable: bool
    figures: list[Comparison]
