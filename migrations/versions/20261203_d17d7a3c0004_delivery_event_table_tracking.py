"""one event table for what happens after a send; open and click tracking switches per brand

Revision ID: d17d7a3c0004
Revises: d17c5e4d0003
Create Date: 2026-12-03 00:05:00

The existing `deliveryevent` rows (SES feedback stored since the ledger began) are kept and
backfilled: brand, partner and partner campaign from their delivery, SES's kind names mapped to
the table's (bounce -> bounced, complaint -> complained, delivery -> delivered), source "ses"
and the idempotency key "ses-legacy:<id>".
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "d17d7a3c0004"
down_revision: str | None = "d17c5e4d0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = {"bounce": "bounced", "complaint": "complained", "delivery": "delivered"}


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN, not batch mode: on SQLite a batch would copy the brand
    # table, and dropping the original fails while other tables' rows reference it.
    for name in ("open_tracking", "click_tracking"):
        op.add_column(
            "brand", sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("deliveryevent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("brand_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("partner_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("partner_campaign_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.add_column(
            sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True)
        )
        batch_op.add_column(
            sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
    _backfill(op.get_bind())
    with op.batch_alter_table("deliveryevent", schema=None) as batch_op:
        for name in ("brand_id", "partner_id", "partner_campaign_id"):
            batch_op.alter_column(name, existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column(
            "source", existing_type=sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False
        )
        batch_op.alter_column(
            "key", existing_type=sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False
        )
        batch_op.create_index(batch_op.f("ix_deliveryevent_key"), ["key"], unique=True)
        batch_op.create_index(
            "ix_deliveryevent_partner_campaign_kind", ["partner_campaign_id", "kind"], unique=False
        )
        batch_op.create_index(
            "ix_deliveryevent_brand_kind_at", ["brand_id", "kind", "at"], unique=False
        )


def _backfill(conn: sa.Connection) -> None:
    conn.execute(
        sa.text(
            "UPDATE deliveryevent SET source = 'ses', key = 'ses-legacy:' || CAST(id AS VARCHAR), "
            "brand_id = (SELECT d.brand_id FROM delivery d WHERE d.id = delivery_id), "
            "partner_id = (SELECT d.partner_id FROM delivery d WHERE d.id = delivery_id), "
            "partner_campaign_id = "
            "(SELECT d.partner_campaign_id FROM delivery d WHERE d.id = delivery_id)"
        )
    )
    for old, new in _KINDS.items():
        conn.execute(
            sa.text("UPDATE deliveryevent SET kind = :new WHERE kind = :old"),
            {"new": new, "old": old},
        )


def downgrade() -> None:
    for old, new in _KINDS.items():
        op.get_bind().execute(
            sa.text("UPDATE deliveryevent SET kind = :old WHERE kind = :new"),
            {"new": new, "old": old},
        )
    op.get_bind().execute(sa.text("DELETE FROM deliveryevent WHERE source <> 'ses'"))
    with op.batch_alter_table("deliveryevent", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveryevent_brand_kind_at")
        batch_op.drop_index("ix_deliveryevent_partner_campaign_kind")
        batch_op.drop_index(batch_op.f("ix_deliveryevent_key"))
        for name in ("key", "url", "source", "partner_campaign_id", "partner_id", "brand_id"):
            batch_op.drop_column(name)
    with op.batch_alter_table("brand", schema=None) as batch_op:
        batch_op.drop_column("click_tracking")
        batch_op.drop_column("open_tracking")
