"""campaign sheets: uploaded campaign plans and their import state

Revision ID: f23a5e0c0001
Revises: e20b0b3c0002
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "f23a5e0c0001"
down_revision: str | None = "e20b0b3c0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaignsheet",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("sheet_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brand.id"]),
        sa.ForeignKeyConstraint(["confirmed_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["uploaded_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("brand_id", "sha256"),
    )
    with op.batch_alter_table("campaignsheet", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaignsheet_brand_id"), ["brand_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("campaignsheet", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaignsheet_brand_id"))
    op.drop_table("campaignsheet")
