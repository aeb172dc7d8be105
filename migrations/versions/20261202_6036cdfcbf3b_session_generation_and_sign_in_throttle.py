"""session generation on users, sign-in failures per client address

Revision ID: 6036cdfcbf3b
Revises: a1507bd9b5df
Create Date: 2026-12-02 08:01:11

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "6036cdfcbf3b"
down_revision: str | None = "a1507bd9b5df"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signinthrottle",
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("window_start", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("client", "window_start"),
    )
    op.create_index(
        op.f("ix_signinthrottle_window_start"), "signinthrottle", ["window_start"], unique=False
    )
    # Existing users start at generation 0, which is what tokens without the claim count as.
    with op.batch_alter_table("user") as batch:
        batch.add_column(
            sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.drop_column("session_generation")
    op.drop_index(op.f("ix_signinthrottle_window_start"), table_name="signinthrottle")
    op.drop_table("signinthrottle")
