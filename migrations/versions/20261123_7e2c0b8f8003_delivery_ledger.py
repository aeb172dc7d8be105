"""delivery ledger, delivery events, segment and audience on partner campaigns

Revision ID: 7e2c0b8f8003
Revises: 6d1b0a7e7002
Create Date: 2026-11-23 13:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "7e2c0b8f8003"
down_revision: str | None = "6d1b0a7e7002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_campaign_id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column(
            "provider_message_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
        ),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("permanent", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["brand_id"], ["brand.id"]),
        sa.ForeignKeyConstraint(["partner_campaign_id"], ["partnercampaign.id"]),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("partner_campaign_id", "contact_id", name="uq_delivery_recipient"),
    )
    for column in ("partner_campaign_id", "brand_id", "partner_id", "status"):
        op.create_index(op.f(f"ix_delivery_{column}"), "delivery", [column], unique=False)
    op.create_index(op.f("ix_delivery_message_id"), "delivery", ["message_id"], unique=False)
    op.create_index(
        op.f("ix_delivery_provider_message_id"), "delivery", ["provider_message_id"], unique=False
    )
    op.create_table(
        "deliveryevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["delivery.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_deliveryevent_delivery_id"), "deliveryevent", ["delivery_id"], unique=False
    )
    with op.batch_alter_table("partnercampaign") as batch:
        batch.add_column(sa.Column("segment_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("audience", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("partnercampaign") as batch:
        batch.drop_column("audience")
        batch.drop_column("segment_id")
    op.drop_index(op.f("ix_deliveryevent_delivery_id"), table_name="deliveryevent")
    op.drop_table("deliveryevent")
    for column in (
        "provider_message_id",
        "message_id",
        "status",
        "partner_id",
        "brand_id",
        "partner_campaign_id",
    ):
        op.drop_index(op.f(f"ix_delivery_{column}"), table_name="delivery")
    op.drop_table("delivery")
