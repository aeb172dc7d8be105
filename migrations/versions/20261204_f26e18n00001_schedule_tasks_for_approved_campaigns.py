"""schedule tasks for campaigns approved before scheduling became a task

Revision ID: f26e18n00001
Revises: f26d18n00001
Create Date: 2026-12-04 05:40:00.000000

An approved partner campaign gets its "schedule" task when the projection writes the
transition into `approved`; campaigns approved before that existed would get it only at their
next transition, which for an approved campaign is the send itself. This opens the task for
them, due at the campaign's send deadline, as the projection would have.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "f26e18n00001"
down_revision: str | None = "f26d18n00001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sqlmodel.sql.sqltypes.UTCDateTime()
_PC = sa.table(
    "partnercampaign",
    sa.column("id", sa.Integer()),
    sa.column("campaign_id", sa.Integer()),
    sa.column("brand_id", sa.Integer()),
    sa.column("region_id", sa.Integer()),
    sa.column("partner_id", sa.Integer()),
    sa.column("state", sa.String()),
)
_CAMPAIGN = sa.table("campaign", sa.column("id", sa.Integer()), sa.column("send_by", _WHEN))
_TASK = sa.table(
    "approvaltask",
    sa.column("id", sa.Integer()),
    sa.column("partner_campaign_id", sa.Integer()),
    sa.column("campaign_id", sa.Integer()),
    sa.column("brand_id", sa.Integer()),
    sa.column("region_id", sa.Integer()),
    sa.column("partner_id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("open", sa.Boolean()),
    sa.column("due_at", _WHEN),
    sa.column("escalation_level", sa.Integer()),
    sa.column("stage_label", sa.String()),
    sa.column("created_at", _WHEN),
    sa.column("updated_at", _WHEN),
)


def open_schedule_tasks(bind: sa.Connection) -> int:
    """Open a schedule task for every approved partner campaign that has none open; returns
    how many were opened or reopened."""
    now = datetime.now(UTC)
    rows = bind.execute(
        sa.select(
            _PC.c.id,
            _PC.c.campaign_id,
            _PC.c.brand_id,
            _PC.c.region_id,
            _PC.c.partner_id,
            _CAMPAIGN.c.send_by,
        )
        .join(_CAMPAIGN, _CAMPAIGN.c.id == _PC.c.campaign_id)
        .where(_PC.c.state == "approved")
    ).all()
    existing = {
        pc_id: is_open
        for pc_id, is_open in bind.execute(
            sa.select(_TASK.c.partner_campaign_id, _TASK.c.open).where(_TASK.c.kind == "schedule")
        )
    }
    changed = 0
    for pc_id, campaign_id, brand_id, region_id, partner_id, send_by in rows:
        if existing.get(pc_id):
            continue
        if pc_id in existing:  # closed by an earlier approval round: open again
            bind.execute(
                _TASK.update()
                .where(_TASK.c.partner_campaign_id == pc_id, _TASK.c.kind == "schedule")
                .values(open=True, due_at=send_by, updated_at=now)
            )
        else:
            bind.execute(
                _TASK.insert().values(
                    partner_campaign_id=pc_id,
                    campaign_id=campaign_id,
                    brand_id=brand_id,
                    region_id=region_id,
                    partner_id=partner_id,
                    kind="schedule",
                    open=True,
                    due_at=send_by,
                    escalation_level=0,
                    stage_label="",
                    created_at=now,
                    updated_at=now,
                )
            )
        changed += 1
    return changed


def upgrade() -> None:
    open_schedule_tasks(op.get_bind())


def downgrade() -> None:
    """The tasks stay: they are what the projection writes for approved campaigns today."""
