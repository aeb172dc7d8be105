"""Series changes in the audit trail, under the entity and reach people know them by."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from core.policy import Target
from models.series import CampaignSeries, SeriesOccurrence, StandingApproval
from services.org import Actor, record_about

Audited = CampaignSeries | SeriesOccurrence | StandingApproval


def _target(obj: Audited) -> Target:
    if isinstance(obj, StandingApproval):
        return Target(obj.brand_id, obj.region_id, obj.partner_id)
    return Target(obj.brand_id)


def record(
    session: Session,
    actor: Actor,
    action: str,
    obj: Audited,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    entity = {CampaignSeries: "campaign_series", SeriesOccurrence: "series_occurrence"}.get(
        type(obj), "standing_approval"
    )
    record_about(session, actor, action, _target(obj), entity, str(obj.id), before, after)
