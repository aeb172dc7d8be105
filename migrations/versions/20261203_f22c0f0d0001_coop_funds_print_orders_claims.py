"""Co-op funds and their ledger, cost rates, print orders and vendor callbacks, claims, and the
open stage of approval chains that decide print orders and claims

Revision ID: f22c0f0d0001
Revises: f24a0c5e0002
Create Date: 2026-12-03 18:08:21.466011
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "f22c0f0d0001"
down_revision: str | None = "f24a0c5e0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "costrate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("format", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("min_quantity", sa.Integer(), nullable=False),
        sa.Column("max_quantity", sa.Integer(), nullable=True),
        sa.Column("unit_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brand.id"],
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("brand_id", "channel", "format", "min_quantity"),
    )
    with op.batch_alter_table("costrate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_costrate_brand_id"), ["brand_id"], unique=False)

    op.create_table(
        "chaintask",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("stage_label", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("approvers", sa.JSON(), nullable=False),
        sa.Column("excluded_user_ids", sa.JSON(), nullable=False),
        sa.Column("required", sa.Integer(), nullable=False),
        sa.Column("approvals", sa.Integer(), nullable=False),
        sa.Column("due_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brand.id"],
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner.id"],
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subject", "subject_id"),
    )
    with op.batch_alter_table("chaintask", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chaintask_brand_id"), ["brand_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chaintask_open"), ["open"], unique=False)
        batch_op.create_index(batch_op.f("ix_chaintask_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chaintask_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "fund",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("coop_share_bp", sa.Integer(), nullable=False),
        sa.Column("eligible_channels", sa.JSON(), nullable=False),
        sa.Column("claim_window_days", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brand.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner.id"],
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("partner_id", "period"),
    )
    with op.batch_alter_table("fund", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fund_brand_id"), ["brand_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_fund_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_fund_region_id"), ["region_id"], unique=False)

    op.create_table(
        "printorder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("partner_campaign_id", sa.Integer(), nullable=False),
        sa.Column("fund_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("format", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("recipient_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("street", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("postal_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("city", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("country", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("wanted_by", sa.Date(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("quote_minor", sa.BigInteger(), nullable=False),
        sa.Column("invoice_minor", sa.BigInteger(), nullable=True),
        sa.Column("vendor", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("vendor_key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("vendor_order_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("vendor_due_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("tracking_number", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("tracking_url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("pdf_key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("pdf_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("proof_of_delivery", sa.JSON(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("request_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("ordered_by", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brand.id"],
        ),
        sa.ForeignKeyConstraint(
            ["fund_id"],
            ["fund.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ordered_by"],
            ["user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["partner_campaign_id"],
            ["partnercampaign.id"],
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner.id"],
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("partner_id", "request_key"),
    )
    with op.batch_alter_table("printorder", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_printorder_brand_id"), ["brand_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_printorder_fund_id"), ["fund_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_printorder_partner_campaign_id"), ["partner_campaign_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_printorder_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_printorder_region_id"), ["region_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_printorder_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_printorder_vendor_key"), ["vendor_key"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_printorder_vendor_order_id"), ["vendor_order_id"], unique=False
        )

    op.create_table(
        "claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("fund_id", sa.Integer(), nullable=False),
        sa.Column("partner_campaign_id", sa.Integer(), nullable=True),
        sa.Column("print_order_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("spend_minor", sa.BigInteger(), nullable=False),
        sa.Column("claimed_minor", sa.BigInteger(), nullable=False),
        sa.Column("coop_share_bp", sa.Integer(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("window_closes_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("paid_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column(
            "payment_reference", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False
        ),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brand.id"],
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by"],
            ["user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["fund_id"],
            ["fund.id"],
        ),
        sa.ForeignKeyConstraint(
            ["partner_campaign_id"],
            ["partnercampaign.id"],
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner.id"],
        ),
        sa.ForeignKeyConstraint(
            ["print_order_id"],
            ["printorder.id"],
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("partner_campaign_id"),
        sa.UniqueConstraint("print_order_id"),
    )
    with op.batch_alter_table("claim", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claim_brand_id"), ["brand_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_claim_fund_id"), ["fund_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_claim_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_claim_region_id"), ["region_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_claim_state"), ["state"], unique=False)

    op.create_table(
        "printvendorcallback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vendor", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("print_order_id", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["print_order_id"],
            ["printorder.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("vendor", "event_id"),
    )
    with op.batch_alter_table("printvendorcallback", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_printvendorcallback_print_order_id"), ["print_order_id"], unique=False
        )

    op.create_table(
        "fundledgerentry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fund_id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("gross_minor", sa.BigInteger(), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("partner_campaign_id", sa.Integer(), nullable=True),
        sa.Column("print_order_id", sa.Integer(), nullable=True),
        sa.Column("claim_id", sa.Integer(), nullable=True),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brand.id"],
        ),
        sa.ForeignKeyConstraint(
            ["by_user_id"],
            ["user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claim.id"],
        ),
        sa.ForeignKeyConstraint(
            ["fund_id"],
            ["fund.id"],
        ),
        sa.ForeignKeyConstraint(
            ["partner_campaign_id"],
            ["partnercampaign.id"],
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner.id"],
        ),
        sa.ForeignKeyConstraint(
            ["print_order_id"],
            ["printorder.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fund_id", "key"),
    )
    with op.batch_alter_table("fundledgerentry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fundledgerentry_brand_id"), ["brand_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_fundledgerentry_fund_id"), ["fund_id"], unique=False)
        batch_op.create_index("ix_fundledgerentry_fund_kind", ["fund_id", "kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_fundledgerentry_partner_id"), ["partner_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("fundledgerentry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fundledgerentry_partner_id"))
        batch_op.drop_index("ix_fundledgerentry_fund_kind")
        batch_op.drop_index(batch_op.f("ix_fundledgerentry_fund_id"))
        batch_op.drop_index(batch_op.f("ix_fundledgerentry_brand_id"))

    op.drop_table("fundledgerentry")
    with op.batch_alter_table("printvendorcallback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_printvendorcallback_print_order_id"))

    op.drop_table("printvendorcallback")
    with op.batch_alter_table("claim", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claim_state"))
        batch_op.drop_index(batch_op.f("ix_claim_region_id"))
        batch_op.drop_index(batch_op.f("ix_claim_partner_id"))
        batch_op.drop_index(batch_op.f("ix_claim_fund_id"))
        batch_op.drop_index(batch_op.f("ix_claim_brand_id"))

    op.drop_table("claim")
    with op.batch_alter_table("printorder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_printorder_vendor_order_id"))
        batch_op.drop_index(batch_op.f("ix_printorder_vendor_key"))
        batch_op.drop_index(batch_op.f("ix_printorder_state"))
        batch_op.drop_index(batch_op.f("ix_printorder_region_id"))
        batch_op.drop_index(batch_op.f("ix_printorder_partner_id"))
        batch_op.drop_index(batch_op.f("ix_printorder_partner_campaign_id"))
        batch_op.drop_index(batch_op.f("ix_printorder_fund_id"))
        batch_op.drop_index(batch_op.f("ix_printorder_brand_id"))

    op.drop_table("printorder")
    with op.batch_alter_table("fund", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fund_region_id"))
        batch_op.drop_index(batch_op.f("ix_fund_partner_id"))
        batch_op.drop_index(batch_op.f("ix_fund_brand_id"))

    op.drop_table("fund")
    with op.batch_alter_table("chaintask", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chaintask_subject_id"))
        batch_op.drop_index(batch_op.f("ix_chaintask_partner_id"))
        batch_op.drop_index(batch_op.f("ix_chaintask_open"))
        batch_op.drop_index(batch_op.f("ix_chaintask_brand_id"))

    op.drop_table("chaintask")
    with op.batch_alter_table("costrate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_costrate_brand_id"))

    op.drop_table("costrate")
