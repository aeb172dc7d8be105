"""campaign sheets: an attempt number, so the same file can be imported afresh after a
failed or expired import

Revision ID: f23e1a7c0001
Revises: f23c0d1e0001
Create Date: 2026-12-03 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f23e1a7c0001"
down_revision: str | None = "f23c0d1e0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaignsheet", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempt", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("campaignsheet", schema=None) as batch_op:
        batch_op.drop_column("attempt")
