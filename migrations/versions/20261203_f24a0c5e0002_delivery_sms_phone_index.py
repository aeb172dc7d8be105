"""An index on the number of SMS delivery rows, for inbound STOP replies

Revision ID: f24a0c5e0002
Revises: f24a0c5e0001
Create Date: 2026-12-03 15:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f24a0c5e0002"
down_revision: str | None = "f24a0c5e0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_delivery_sms_phone",
            ["phone"],
            unique=False,
            postgresql_where=sa.text("phone <> ''"),
            sqlite_where=sa.text("phone <> ''"),
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_sms_phone")
