"""sender identity: brand sending domains, partner From/Reply-To, test sends in the outbox

Revision ID: d17c5e4d0003
Revises: d17b10c50002
Create Date: 2026-12-03 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "d17c5e4d0003"
down_revision: str | None = "d17b10c50002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "brandsender",
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("domains", sa.JSON(), nullable=False),
        sa.Column(
            "default_local_part", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("ses_identity_arn", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column(
            "ses_configuration_set", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brand.id"]),
        sa.PrimaryKeyConstraint("brand_id"),
    )
    op.create_table(
        "partnersender",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("from_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("from_address", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("reply_to", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brand.id"]),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"]),
        sa.PrimaryKeyConstraint("partner_id"),
    )
    op.create_index("ix_partnersender_brand_id", "partnersender", ["brand_id"])
    with op.batch_alter_table("outboxmessage") as batch:
        batch.add_column(
            sa.Column("is_test", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("outboxmessage") as batch:
        batch.drop_column("is_test")
    op.drop_index("ix_partnersender_brand_id", table_name="partnersender")
    op.drop_table("partnersender")
    op.drop_table("brandsender")
