"""used sign-in links (single use)

Revision ID: f26d18n00001
Revises: f26a18n00001
Create Date: 2026-12-04 02:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "f26d18n00001"
down_revision: str | None = "f26a18n00001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usedsigninlink",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("partner_campaign_id", sa.Integer(), nullable=False),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("digest"),
    )
    with op.batch_alter_table("usedsigninlink", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_usedsigninlink_expires_at"), ["expires_at"])
        batch_op.create_index(batch_op.f("ix_usedsigninlink_user_id"), ["user_id"])


def downgrade() -> None:
    with op.batch_alter_table("usedsigninlink", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usedsigninlink_user_id"))
        batch_op.drop_index(batch_op.f("ix_usedsigninlink_expires_at"))
    op.drop_table("usedsigninlink")
