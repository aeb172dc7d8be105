"""The inbox: open tasks the caller may act on now (personalise; decide an approval stage,
also for approvers who delegated to the caller)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import SessionDep
from api.routers.params import PagingDep, page_of
from api.security import PartnerCampaignReader
from domain.states import PartnerCampaignState
from models.base import utcnow
from models.campaign_schemas import TaskRead
from models.schemas import Page
from services import inbox as svc

router = APIRouter(prefix="/api/v1", tags=["tasks"])


@router.get("/tasks", response_model=Page[TaskRead], summary="List the caller's open tasks (inbox)")
def list_tasks(
    principal: PartnerCampaignReader,
    session: SessionDep,
    paging: PagingDep,
    campaign_id: int | None = None,
    partner_id: int | None = None,
    region_id: int | None = None,
    state: PartnerCampaignState | None = None,
    overdue: bool | None = None,
    sort: str = svc.TASKS.sort_query("(`due_at`: soonest due first, tasks without one last)"),
) -> Page[TaskRead]:
    """Everyone who can act on a task can read its partner campaign, hence the guard. No
    `total`: the approval rule is applied per task, so counting would read every open task."""
    now = utcnow()
    result = svc.page_tasks(
        session,
        principal,
        paging,
        campaign_id=campaign_id,
        partner_id=partner_id,
        region_id=region_id,
        state=state.value if state else None,
        overdue=overdue,
        sort=sort,
        now=now,
    )
    return page_of(result, paging, svc.task_reads(session, result.items, now))
