"""idempotency keys per user, with the request fingerprint

Keys stored before are unscoped and stay as they are: a client retrying across the upgrade
gets a new campaign once (the old key can no longer match). Nothing else changes.

Revision ID: 0023c4c79406
Revises: 65d8470f1275
Create Date: 2026-12-02 08:30:52.515565
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0023c4c79406"
down_revision: str | None = "65d8470f1275"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "idempotency_fingerprint",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=True,
            )
        )
        batch_op.alter_column(
            "idempotency_key",
            existing_type=sa.VARCHAR(length=200),
            type_=sqlmodel.sql.sqltypes.AutoString(length=240),
            existing_nullable=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.alter_column(
            "idempotency_key",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=240),
            type_=sa.VARCHAR(length=200),
            existing_nullable=True,
        )
        batch_op.drop_column("idempotency_fingerprint")
