"""SMS: contacts' numbers, SMS consent and channel preference; the delivery row's channel;
phone suppressions; the outbox SMS rows; a partner's SMS sender id

Revision ID: f24a0c5e0001
Revises: f23e1a7c0001
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "f24a0c5e0001"
down_revision: str | None = "f23e1a7c0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column(
                "sms_consent_status", sa.String(length=16), server_default="unknown", nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                "sms_consent_source", sa.String(length=200), server_default="", nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("sms_consent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("channel", sa.String(length=8), server_default="email", nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_contact_phone"), ["phone"], unique=False)
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=8), server_default="email", nullable=False)
        )
        batch_op.add_column(
            sa.Column("phone", sa.String(length=16), server_default="", nullable=False)
        )
    with op.batch_alter_table("partner", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sms_sender_id", sa.String(length=11), server_default="", nullable=False)
        )
    op.create_table(
        "phonesuppression",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.String(length=1000), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brand.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("brand_id", "phone"),
    )
    with op.batch_alter_table("phonesuppression", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_phonesuppression_brand_id"), ["brand_id"])
        batch_op.create_index(batch_op.f("ix_phonesuppression_partner_id"), ["partner_id"])
    op.create_table(
        "outboxsms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("to", sa.String(length=16), nullable=False),
        sa.Column("sender_id", sa.String(length=16), nullable=False),
        sa.Column("body", sa.String(length=2000), nullable=False),
        sa.Column("encoding", sa.String(length=8), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=True),
        sa.Column("partner_campaign_id", sa.Integer(), nullable=True),
        sa.Column("delivery_id", sa.String(length=100), nullable=True),
        sa.Column("is_test", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outboxsms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outboxsms_message_id"), ["message_id"], unique=True)
        batch_op.create_index(batch_op.f("ix_outboxsms_brand_id"), ["brand_id"])
        batch_op.create_index(
            batch_op.f("ix_outboxsms_partner_campaign_id"), ["partner_campaign_id"]
        )
        batch_op.create_index(batch_op.f("ix_outboxsms_sent_at"), ["sent_at"])
        batch_op.create_index("ix_outboxsms_brand_sent", ["brand_id", "sent_at", "id"])


def downgrade() -> None:
    op.drop_table("outboxsms")
    op.drop_table("phonesuppression")
    with op.batch_alter_table("partner", schema=None) as batch_op:
        batch_op.drop_column("sms_sender_id")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("phone")
        batch_op.drop_column("channel")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_phone"))
        batch_op.drop_column("channel")
        batch_op.drop_column("sms_consent_at")
        batch_op.drop_column("sms_consent_source")
        batch_op.drop_column("sms_consent_status")
        batch_op.drop_column("phone")
