"""asset alt text; public image publications (stable URLs of renditions used in emails)

Revision ID: d17a1a9e0001
Revises: c4e8a2b6d1f0
Create Date: 2026-12-02 23:58:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "d17a1a9e0001"
down_revision: str | None = "c4e8a2b6d1f0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("asset") as batch:
        batch.add_column(
            sa.Column(
                "alt_text",
                sqlmodel.sql.sqltypes.AutoString(length=300),
                nullable=False,
                server_default="",
            )
        )
    op.create_table(
        "assetpublication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rendition", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("storage_key", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("public_key", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=True),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("published_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("unpublished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column(
            "unpublished_reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
        ),
        sa.ForeignKeyConstraint(["asset_id"], ["asset.id"]),
        sa.ForeignKeyConstraint(["brand_id"], ["brand.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("asset_id", "version", "rendition"),
    )
    op.create_index("ix_assetpublication_token", "assetpublication", ["token"], unique=True)
    op.create_index("ix_assetpublication_asset_id", "assetpublication", ["asset_id"])
    op.create_index("ix_assetpublication_brand_id", "assetpublication", ["brand_id"])


def downgrade() -> None:
    op.drop_index("ix_assetpublication_brand_id", table_name="assetpublication")
    op.drop_index("ix_assetpublication_asset_id", table_name="assetpublication")
    op.drop_index("ix_assetpublication_token", table_name="assetpublication")
    op.drop_table("assetpublication")
    with op.batch_alter_table("asset") as batch:
        batch.drop_column("alt_text")
