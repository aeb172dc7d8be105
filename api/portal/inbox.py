"""The inbox (open tasks, overdue and soonest due first) and "My campaigns" for partner editors
(what needs doing first). Both read the same services as /api/v1/tasks and
/api/v1/partner-campaigns."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import case
from sqlmodel import Session, col

from api.deps import SessionDep, SettingsDep
from api.portal.paging import CursorQuery, pager, portal_page
from api.portal.web import PortalInbox, PortalPartnerCampaignEditor, PortalRoute, render
from core.policy import Permission, has_permission_somewhere
from domain.states import PartnerCampaignState as S
from domain.states import TaskKind
from i18n.translate import N_
from models.base import utcnow
from models.campaign_schemas import TaskRead
from models.campaigns import ApprovalTask, PartnerCampaign
from services import campaigns as svc
from services import inbox as inbox_svc
from services import scheduling
from services import templates as template_svc
from services.accounts import display_names
from services.approvals import chain_tasks
from services.approvals.tasks import approvers_of
from services.paging import Key, Listing

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])

# Translated where shown ({{ _(words[kind]) }}).
TASK_WORDS = {
    TaskKind.personalise: N_("Personalise and submit"),
    TaskKind.approve: N_("Decide"),
    TaskKind.schedule: N_("Pick the send time"),
}
STATE_WORDS = {
    S.invited: N_("invited"),
    S.drafting: N_("drafting"),
    S.changes_requested: N_("changes requested"),
    S.pending_approval: N_("pending approval"),
    S.approved: N_("approved"),
    S.scheduled: N_("scheduled"),
}


def task_path(task: TaskRead) -> str:
    """Where a task is done: the partner campaign's form, a schedule task at its send time."""
    if task.kind == TaskKind.schedule:
        return scheduling.schedule_path(task.partner_campaign_id)
    return f"/partner-campaigns/{task.partner_campaign_id}"


# What a partner editor must do in each state, most urgent first.
NEXT_STEPS = {
    S.changes_requested: (0, "Changes were requested: edit and submit again"),
    S.invited: (1, "Personalise and submit"),
    S.drafting: (1, "Finish personalising and submit"),
    S.approved: (2, "Approved: pick the send time"),
    S.pending_approval: (3, "Waiting for approval"),
    S.scheduled: (4, "Scheduled: nothing to do"),
}


def named_approvers(session: Session, tasks: list[ApprovalTask]) -> dict[int, str]:
    """The names of the people the tasks' stages name (by user id)."""
    ids = {a.user_id for t in tasks for a in approvers_of(t) if a.user_id is not None}
    return display_names(session, ids)


# "My campaigns" in that order, by SQL so that it pages: -rank descending is rank ascending,
# and the tie-breaker id then descends too (the newest first within a rank).
MY_CAMPAIGNS = Listing(
    "my-campaigns",
    col(PartnerCampaign.id),
    {
        "todo": Key(
            case(
                {s.value: -rank for s, (rank, _) in NEXT_STEPS.items()},
                value=col(PartnerCampaign.state),
                else_=-9,
            ),
            "int",
        )
    },
    default="-todo",
)


@router.get("/inbox", response_class=HTMLResponse)
def inbox(
    principal: PortalInbox,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    cursor: CursorQuery = None,
) -> HTMLResponse:
    """Soonest due first (overdue ones are due before now, so they lead), one page at a time."""
    now = utcnow()
    result = inbox_svc.page_tasks(
        session, principal, portal_page(settings, cursor), sort="due_at", now=now
    )
    found = result.items
    tasks = inbox_svc.task_reads(session, found, now)
    named = named_approvers(session, [task for task, _ in found])
    if named:  # people a stage names by name: shown by name, not by id
        for read, (task, _) in zip(tasks, found, strict=True):
            if read.stage is not None:
                read.stage.deciders = [a.label(named) for a in approvers_of(task)]
    reviews = (
        template_svc.versions_in_review(session, principal)
        if has_permission_somewhere(principal, Permission.template_review)
        else []
    )
    return render(
        request,
        "inbox.html",
        title="Inbox",
        tasks=tasks,
        chain_items=chain_tasks.inbox_items(session, principal),
        principals=display_names(session, {t.on_behalf_of for t in tasks if t.on_behalf_of}),
        words=TASK_WORDS,
        states={str(k): v for k, v in STATE_WORDS.items()},
        task_paths={t.id: task_path(t) for t in tasks},
        reviews=reviews,
        pager=pager(request, result, {}),
        flash=request.query_params.get("done", ""),
    )


@router.get("/my-campaigns", response_class=HTMLResponse)
def my_campaigns(
    principal: PortalPartnerCampaignEditor,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    cursor: CursorQuery = None,
) -> HTMLResponse:
    result = svc.list_partner_campaigns(
        session, principal, portal_page(settings, cursor), sort="-todo", listing=MY_CAMPAIGNS
    )
    return render(
        request,
        "my_campaigns.html",
        title="My campaigns",
        items=svc.partner_campaign_reads(session, result.items),
        next_steps=NEXT_STEPS,
        pager=pager(request, result, {}),
        saved=request.query_params.get("saved", ""),
    )
