"""A chain task's subject takes "journey_activation" (18 characters; it was 16)

Revision ID: f25d0a1c0001
Revises: f25b0000a001
Create Date: 2026-12-03 22:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f25d0a1c0001"
down_revision: str | None = "f25b0000a001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chaintask", schema=None) as batch_op:
        batch_op.alter_column(
            "subject", existing_type=sa.String(length=16), type_=sa.String(length=32)
        )


def downgrade() -> None:
    with op.batch_alter_table("chaintask", schema=None) as batch_op:
        batch_op.alter_column(
            "subject", existing_type=sa.String(length=32), type_=sa.String(length=16)
        )
