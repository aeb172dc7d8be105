"""partner campaign revision: submissions so far

Revision ID: 8b6c7cc5af5d
Revises: 6036cdfcbf3b
Create Date: 2026-12-02 08:46:18.832480
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8b6c7cc5af5d"
down_revision: str | None = "6036cdfcbf3b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("partnercampaign", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("partnercampaign", schema=None) as batch_op:
        batch_op.drop_column("revision")
