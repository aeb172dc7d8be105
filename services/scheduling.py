"""Scheduling as a task: an approved partner campaign without a send time waits for its
editors to pick one.

Derived from the state, not commanded by the workflow: whenever the projection writes a
transition into `approved` it opens a "schedule" task due at the campaign's send deadline
(where the workflow schedules it by itself), and any other state closes it. Campaigns
already approved before the task existed got theirs from migration f26e18n00001. The
reminder email comes from the workflow (patch "schedule-reminder",
domain.scheduling.REMIND_BEFORE before send_by).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from domain.states import PartnerCampaignState, TaskKind
from models.campaigns import Campaign, PartnerCampaign


def open_tasks(
    session: Session,
    row: PartnerCampaign,
    state: str,
    listed: dict[str, datetime | None],
) -> dict[str, datetime | None]:
    """The task kinds to keep open after a transition into `state`: what the workflow lists,
    plus "schedule" while approved (due at the send deadline)."""
    wanted = dict(listed)
    if state == PartnerCampaignState.approved and TaskKind.schedule.value not in wanted:
        campaign = session.get(Campaign, row.campaign_id)
        wanted[TaskKind.schedule.value] = campaign.send_by if campaign else None
    return wanted


def schedule_path(partner_campaign_id: int) -> str:
    """The form's send-time section, where the task is done."""
    return f"/partner-campaigns/{partner_campaign_id}#schedule-h"
