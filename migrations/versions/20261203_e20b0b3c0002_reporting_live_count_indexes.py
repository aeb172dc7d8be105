"""indexes for reporting's live counts: the delivery ledger and its events by brand and time

Reports count the days after the rollup's watermark live (services.reporting.metrics
count_metrics: ledger rows by created_at, sent_at and updated_at, events by at, per brand).
Without these, every report reading delivery figures scanned the whole ledger and event table
(10 million rows: about 0.7 s per ledger query and 1.3 s for the events, on every request).

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
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
