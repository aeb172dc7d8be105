"""brand blocks: a header and a footer per brand, and the snapshot a template version renders

Revision ID: d17b10c50002
Revises: d17a1a9e0001
Create Date: 2026-12-03 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "d17b10c50002"
down_revision: str | None = "d17a1a9e0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "brandblock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brand.id"]),
        sa.ForeignKeyConstraint(["updated_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("brand_id", "kind"),
    )
    op.create_index(op.f("ix_brandblock_brand_id"), "brandblock", ["brand_id"], unique=False)
    with op.batch_alter_table("templateversion") as batch:
        batch.add_column(
            sa.Column("blocks", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("templateversion") as batch:
        batch.drop_column("blocks")
    op.drop_index(op.f("ix_brandblock_brand_id"), table_name="brandblock")
    op.drop_table("brandblock")
