"""approval policies, delegations, approval stages on partner campaigns and tasks

Partner campaigns and tasks waiting under the hard-wired chain (pending_gm, pending_hq,
approve_gm, approve_hq) become the one approval state with its stage as data, exactly as the
built-in policies `gm` and `gm_then_hq` name their stages (gm, hq): the workflows of those
campaigns replay into the same chain (see docs/operations.md).

Revision ID: feb9f7c2dbc9
Revises: 8b6c7cc5af5d
Create Date: 2026-12-02 10:06:17.966969
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "feb9f7c2dbc9"
down_revision: str | None = "8b6c7cc5af5d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "approvalpolicy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("archived_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brand.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("brand_id", "name"),
    )
    with op.batch_alter_table("approvalpolicy", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approvalpolicy_brand_id"), ["brand_id"], unique=False)

    op.create_table(
        "delegation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("delegate_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brand.id"],
        ),
        sa.ForeignKeyConstraint(
            ["delegate_id"],
            ["user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("delegation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delegation_brand_id"), ["brand_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_delegation_delegate_id"), ["delegate_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_delegation_user_id"), ["user_id"], unique=False)

    op.create_table(
        "approvalpolicyversion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
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
            ["policy_id"],
            ["approvalpolicy.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("policy_id", "number"),
    )
    with op.batch_alter_table("approvalpolicyversion", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_approvalpolicyversion_brand_id"), ["brand_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_approvalpolicyversion_policy_id"), ["policy_id"], unique=False
        )

    with op.batch_alter_table("approvaltask", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "stage_label",
                sqlmodel.sql.sqltypes.AutoString(length=100),
                server_default="",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("approvers", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(
            sa.Column("excluded_user_ids", sa.JSON(), server_default="[]", nullable=False)
        )
        batch_op.add_column(sa.Column("required", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(
            sa.Column("approvals", sa.Integer(), server_default="0", nullable=False)
        )

    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approval_policy_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("approval_policy_version_id", sa.Integer(), nullable=True))
        batch_op.alter_column(
            "approval_policy",
            existing_type=sa.VARCHAR(length=16),
            type_=sqlmodel.sql.sqltypes.AutoString(length=100),
            existing_nullable=False,
        )
        batch_op.create_foreign_key(
            "fk_campaign_approval_policy_id", "approvalpolicy", ["approval_policy_id"], ["id"]
        )
        batch_op.create_foreign_key(
            "fk_campaign_approval_policy_version_id",
            "approvalpolicyversion",
            ["approval_policy_version_id"],
            ["id"],
        )

    with op.batch_alter_table("partnercampaign", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("approval_stage", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True)
        )
        batch_op.add_column(sa.Column("approval_policy_version_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_partnercampaign_approval_policy_version_id",
            "approvalpolicyversion",
            ["approval_policy_version_id"],
            ["id"],
        )
    _one_approval_state()


PC = sa.table(
    "partnercampaign",
    sa.column("id", sa.Integer),
    sa.column("state", sa.String),
    sa.column("approval_stage", sa.String),
    sa.column("submitted_by", sa.Integer),
)
TASK = sa.table(
    "approvaltask",
    sa.column("id", sa.Integer),
    sa.column("partner_campaign_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("open", sa.Boolean),
    sa.column("escalation_level", sa.Integer),
    sa.column("stage", sa.String),
    sa.column("stage_label", sa.String),
    sa.column("approvers", sa.JSON),
    sa.column("excluded_user_ids", sa.JSON),
)
LEGACY = {"pending_gm": "gm", "pending_hq": "hq"}
LEGACY_TASKS = {"approve_gm": ("gm", "The partner's GM"), "approve_hq": ("hq", "Brand review")}


def _one_approval_state() -> None:
    bind = op.get_bind()
    for state, stage in LEGACY.items():
        bind.execute(
            PC.update()
            .where(PC.c.state == state)
            .values(state="pending_approval", approval_stage=stage)
        )
    submitters = dict(bind.execute(sa.select(PC.c.id, PC.c.submitted_by)).all())
    tasks = bind.execute(
        sa.select(TASK.c.id, TASK.c.partner_campaign_id, TASK.c.kind, TASK.c.open)
        .where(TASK.c.kind.in_(list(LEGACY_TASKS)))
        .order_by(TASK.c.open.desc(), TASK.c.kind.desc())
    ).all()
    kept: set[int] = set()
    for task_id, pc_id, kind, _open in tasks:
        if pc_id in kept:  # one approval task per partner campaign: the open or later one
            bind.execute(TASK.delete().where(TASK.c.id == task_id))
            continue
        kept.add(pc_id)
        stage, label = LEGACY_TASKS[kind]
        escalated = bind.execute(
            sa.select(TASK.c.escalation_level).where(TASK.c.id == task_id)
        ).scalar_one()
        approvers = [{"role": "brand_reviewer"}] if stage == "hq" else [{"role": "partner_gm"}]
        if stage == "gm" and escalated:
            approvers.append({"role": "region_manager"})
        submitter = submitters.get(pc_id)
        bind.execute(
            TASK.update()
            .where(TASK.c.id == task_id)
            .values(
                kind="approve",
                stage=stage,
                stage_label=label,
                approvers=approvers,
                excluded_user_ids=[submitter] if submitter else [],
            )
        )


def downgrade() -> None:
    bind = op.get_bind()
    for state, stage in LEGACY.items():
        bind.execute(
            PC.update()
            .where(PC.c.state == "pending_approval", PC.c.approval_stage == stage)
            .values(state=state)
        )
    for kind, (stage, _label) in LEGACY_TASKS.items():
        bind.execute(
            TASK.update().where(TASK.c.kind == "approve", TASK.c.stage == stage).values(kind=kind)
        )
    with op.batch_alter_table("partnercampaign", schema=None) as batch_op:
        batch_op.drop_constraint(
            "fk_partnercampaign_approval_policy_version_id", type_="foreignkey"
        )
        batch_op.drop_column("approval_policy_version_id")
        batch_op.drop_column("approval_stage")

    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_constraint("fk_campaign_approval_policy_version_id", type_="foreignkey")
        batch_op.drop_constraint("fk_campaign_approval_policy_id", type_="foreignkey")
        batch_op.alter_column(
            "approval_policy",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=100),
            type_=sa.VARCHAR(length=16),
            existing_nullable=False,
        )
        batch_op.drop_column("approval_policy_version_id")
        batch_op.drop_column("approval_policy_id")

    with op.batch_alter_table("approvaltask", schema=None) as batch_op:
        batch_op.drop_column("approvals")
        batch_op.drop_column("required")
        batch_op.drop_column("excluded_user_ids")
        batch_op.drop_column("approvers")
        batch_op.drop_column("stage_label")
        batch_op.drop_column("stage")

    with op.batch_alter_table("approvalpolicyversion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approvalpolicyversion_policy_id"))
        batch_op.drop_index(batch_op.f("ix_approvalpolicyversion_brand_id"))

    op.drop_table("approvalpolicyversion")
    with op.batch_alter_table("delegation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delegation_user_id"))
        batch_op.drop_index(batch_op.f("ix_delegation_delegate_id"))
        batch_op.drop_index(batch_op.f("ix_delegation_brand_id"))

    op.drop_table("delegation")
    with op.batch_alter_table("approvalpolicy", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approvalpolicy_brand_id"))

    op.drop_table("approvalpolicy")
