"""indexes for reads at 10,000 partners: counts per campaign, region and state; delivery
progress per partner campaign and status; the outbox newest first per brand

Revision ID: b7d4e9a1c2f3
Revises: 3c9e1d7a4b25
Create Date: 2026-12-02 20:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b7d4e9a1c2f3"
down_revision: str | None = "3c9e1d7a4b25"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_partnercampaign_campaign_region_state",
        "partnercampaign",
        ["campaign_id", "region_id", "state"],
    )
    op.create_index(
        "ix_delivery_partner_campaign_status", "delivery", ["partner_campaign_id", "status"]
    )
    op.create_index("ix_outboxmessage_brand_sent", "outboxmessage", ["brand_id", "sent_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_outboxmessage_brand_sent", table_name="outboxmessage")
    op.drop_index("ix_delivery_partner_campaign_status", table_name="delivery")
    op.drop_index("ix_partnercampaign_campaign_region_state", table_name="partnercampaign")
