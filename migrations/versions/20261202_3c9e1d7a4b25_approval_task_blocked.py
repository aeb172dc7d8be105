"""approval tasks say why their stage cannot pass with the people holding its roles

Revision ID: 3c9e1d7a4b25
Revises: feb9f7c2dbc9
Create Date: 2026-12-02 11:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "3c9e1d7a4b25"
down_revision: str | None = "feb9f7c2dbc9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("approvaltask") as batch:
        batch.add_column(
            sa.Column("blocked", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("approvaltask") as batch:
        batch.drop_column("blocked")
