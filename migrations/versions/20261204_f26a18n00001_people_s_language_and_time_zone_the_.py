"""people's language and time zone, the brand's zone

Revision ID: f26a18n00001
Revises: f25d0a1c0001
Create Date: 2026-12-04 02:16:25.825108
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f26a18n00001"
down_revision: str | None = "f25d0a1c0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("brand", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False)
        )

    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("locale", sa.String(length=10), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("timezone", sa.String(length=64), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("timezone")
        batch_op.drop_column("locale")

    with op.batch_alter_table("brand", schema=None) as batch_op:
        batch_op.drop_column("timezone")
