"""open tasks of a brand newest first: the inbox's and /tasks' keyset order

Revision ID: c4e8a2b6d1f0
Revises: b7d4e9a1c2f3
Create Date: 2026-12-02 21:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4e8a2b6d1f0"
down_revision: str | None = "b7d4e9a1c2f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_approvaltask_open_brand_created",
        "approvaltask",
        ["brand_id", "created_at", "id"],
        postgresql_where=sa.text("open IS TRUE"),
        sqlite_where=sa.text("open IS 1"),
    )


def downgrade() -> None:
    op.drop_index("ix_approvaltask_open_brand_created", table_name="approvaltask")
