"""indexes for reports at scale: live counts by brand and time, region aggregates, events

Reports count the days after the rollup's watermark live (services.reporting.metrics
count_metrics: ledger rows by created_at, sent_at and updated_at, events by at, per brand).
Without the first four, every report reading delivery figures scanned the whole ledger and event
table (10 million rows: about 0.7 s per ledger query and 1.3 s for the events, every request).
A region's daily aggregates (region managers, a partner's comparison with its region) are read
by brand, region and day; the timeline's submissions and escalations by brand, event and time;
cycle times by brand, kind and end now carry what time to market reads (index-only scans).
Measured with bench/reports.py (docs/reporting-bench.md).

Revision ID: e20b0b3c0002
Revises: e20a0f1c0001
Create Date: 2026-12-03 05:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "e20b0b3c0002"
down_revision: str | None = "e20a0f1c0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_delivery_brand_created_at", "delivery", ["brand_id", "created_at"]),
    ("ix_delivery_brand_sent_at", "delivery", ["brand_id", "sent_at"]),
    ("ix_delivery_brand_updated_at", "delivery", ["brand_id", "updated_at"]),
    ("ix_deliveryevent_brand_at", "deliveryevent", ["brand_id", "at"]),
    ("ix_transitionfact_brand_event_at", "transitionfact", ["brand_id", "event", "at"]),
    ("ix_reportdaily_brand_region_day", "reportdaily", ["brand_id", "region_id", "day"]),
)
# PostgreSQL answers a region's sums from the index alone (SQLite ignores the option).
INCLUDE = {
    "ix_reportdaily_brand_region_day": [
        "metric",
        "channel",
        "partner_id",
        "campaign_id",
        "value",
    ]
}


CYCLE = ("ix_cycletime_brand_kind_ended", "cycletime", ["brand_id", "kind", "ended_at"])
CYCLE_INCLUDE = ["region_id", "stage", "outcome", "seconds"]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(
            name, table, columns, unique=False, postgresql_include=INCLUDE.get(name, [])
        )
    name, table, columns = CYCLE
    op.drop_index(name, table_name=table)
    op.create_index(name, table, columns, unique=False, postgresql_include=CYCLE_INCLUDE)


def downgrade() -> None:
    name, table, columns = CYCLE
    op.drop_index(name, table_name=table)
    op.create_index(name, table, columns, unique=False)
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
