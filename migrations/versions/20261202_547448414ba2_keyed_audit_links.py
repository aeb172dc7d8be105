"""keyed audit links: mac_version and key_id on audit events

Existing events keep their plain SHA-256 links and are marked mac_version 0; new events are
keyed (mac_version 1, HMAC-SHA256 with the audit key named by key_id). The column gets no
server default once the existing rows are marked, so a process still running the old code
cannot add a plain link to a keyed chain: its insert fails instead.

A downgrade drops both columns; the old code then reports every keyed event as broken.

Revision ID: 547448414ba2
Revises: 0023c4c79406
Create Date: 2026-12-02 08:01:02.498069
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "547448414ba2"
down_revision: str | None = "0023c4c79406"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("auditevent", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mac_version", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
    with op.batch_alter_table("auditevent", schema=None) as batch_op:
        batch_op.alter_column("mac_version", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("auditevent", schema=None) as batch_op:
        batch_op.drop_column("key_id")
        batch_op.drop_column("mac_version")
