"""readiness probe: the row /ready rewrites to prove the database takes writes

Revision ID: 65d8470f1275
Revises: 7e2c0b8f8003
Create Date: 2026-12-02 07:57:59.011777
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "65d8470f1275"
down_revision: str | None = "7e2c0b8f8003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "readinessprobe",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("readinessprobe")
