"""Each person's inbox: the open tasks they may act on now, soonest due first.

Personalising is for the partner's editors. An approval task carries its stage as the chain
left it (who the stage names, who may not decide it), and approvals.engine.may_decide, the
rule the workflow itself applies, says whether the caller (or an approver who delegated to the
caller) may decide it: the inbox offers exactly the tasks the workflow would accept.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import DateTime, func, literal, or_, type_coerce
from sqlmodel import Session, col, select

from approvals.engine import may_decide
from core.policy import Permission, Principal, Target, allows, has_permission_somewhere
from domain.states import EDITOR_TASKS
from models.base import utcnow
from models.campaign_schemas import TaskRead
from models.campaigns import ApprovalTask, PartnerCampaign
from services.access import scope_filter
from services.approvals.delegations import Identity, identities
from services.approvals.tasks import approvers_of, open_approvals, stage_read
from services.campaigns import aware, names_of
from services.paging import Key, Listing, Paged, PageRequest, merge_page, start, walk


def may_act_on(identity: Identity, task: ApprovalTask) -> bool:
    """Whether the task is this identity's to do."""
    target = Target(task.brand_id, task.region_id, task.partner_id)
    if task.kind in EDITOR_TASKS:
        return identity.for_user is None and allows(
            identity.principal, Permission.partner_campaign_edit, target
        )
    return may_decide(identity.principal, approvers_of(task), target, task.excluded_user_ids)


def acting_as(session: Session, principal: Principal, task: ApprovalTask) -> Identity | None:
    """Who the caller would act as on this task: themselves first, else an approver who
    delegated to them; None when neither may."""
    return next((i for i in identities(session, principal) if may_act_on(i, task)), None)


def open_approval(session: Session, partner_campaign_id: int) -> ApprovalTask | None:
    """The approval task waiting on this partner campaign, if any."""
    return open_approvals(session, [partner_campaign_id]).get(partner_campaign_id)


def is_overdue(task: ApprovalTask, now: datetime) -> bool:
    return task.due_at is not None and aware(task.due_at) < aware(now)


FAR = datetime(9999, 12, 31)
TASKS = Listing(
    "tasks",
    col(ApprovalTask.id),
    {
        "created_at": Key(col(ApprovalTask.created_at), "datetime"),
        # Tasks without a due time come last, as if due at the end of time.
        "due_at": Key(
            type_coerce(
                func.coalesce(col(ApprovalTask.due_at), literal(FAR, DateTime())), DateTime()
            ),
            "datetime",
        ),
    },
    default="-created_at",
)


def page_tasks(
    session: Session,
    principal: Principal,
    paging: PageRequest,
    *,
    campaign_id: int | None = None,
    partner_id: int | None = None,
    region_id: int | None = None,
    state: str | None = None,
    overdue: bool | None = None,
    sort: str = TASKS.default,
    now: datetime | None = None,
) -> Paged[tuple[ApprovalTask, Identity]]:
    """The principal's open tasks (and those of approvers who delegated to them), each with
    who the principal acts as, one page in `sort`'s order, read by keyset in chunks per
    identity the caller acts as (themselves, approvers who delegated to them) and merged;
    the approval rule is applied to each row, so a page reads only as many rows as it needs
    to fill (no total: it would need every open task)."""
    now = now or utcnow()
    position = start(paging, TASKS, sort)
    chunk = min(4 * (paging.limit + 1), 500)
    streams = []
    for identity in identities(session, principal, now):
        stmt = (
            select(ApprovalTask)
            .join(PartnerCampaign, col(PartnerCampaign.id) == col(ApprovalTask.partner_campaign_id))
            .where(
                col(ApprovalTask.open).is_(True),
                scope_filter(
                    identity.principal,
                    ApprovalTask.brand_id,
                    ApprovalTask.region_id,
                    ApprovalTask.partner_id,
                    Permission.partner_campaign_read,
                ),
            )
        )
        if identity.for_user is not None or not has_permission_somewhere(
            identity.principal, Permission.partner_campaign_edit
        ):
            stmt = stmt.where(col(ApprovalTask.kind).not_in(sorted(EDITOR_TASKS)))
        if campaign_id is not None:
            stmt = stmt.where(ApprovalTask.campaign_id == campaign_id)
        if partner_id is not None:
            stmt = stmt.where(ApprovalTask.partner_id == partner_id)
        if region_id is not None:
            stmt = stmt.where(ApprovalTask.region_id == region_id)
        if state:
            stmt = stmt.where(PartnerCampaign.state == state)
        if overdue is True:
            stmt = stmt.where(col(ApprovalTask.due_at) < now)
        elif overdue is False:
            stmt = stmt.where(
                or_(col(ApprovalTask.due_at).is_(None), col(ApprovalTask.due_at) >= now)
            )
        streams.append(
            (
                (pos, (task, identity))
                for pos, task in walk(session, stmt, TASKS, sort, position, chunk)
            )
        )

    def keep(found: tuple[ApprovalTask, Identity]) -> bool:
        task, identity = found
        return may_act_on(identity, task) and (overdue is None or is_overdue(task, now) == overdue)

    return merge_page(streams, TASKS, sort, paging, keep, lambda f: f[0].id or 0)


def task_reads(
    session: Session,
    tasks: Sequence[tuple[ApprovalTask, Identity]],
    now: datetime | None = None,
) -> list[TaskRead]:
    now = now or utcnow()
    campaigns, partners = names_of(
        session, (t.campaign_id for t, _ in tasks), (t.partner_id for t, _ in tasks)
    )
    pc_ids = sorted({t.partner_campaign_id for t, _ in tasks})
    states = {}
    if pc_ids:
        states = {
            int(pc_id or 0): state
            for pc_id, state in session.exec(
                select(PartnerCampaign.id, PartnerCampaign.state).where(
                    col(PartnerCampaign.id).in_(pc_ids)
                )
            ).all()
        }
    out = []
    for task, identity in tasks:
        assert task.id is not None
        out.append(
            TaskRead(
                id=task.id,
                kind=task.kind,
                partner_campaign_id=task.partner_campaign_id,
                campaign_id=task.campaign_id,
                campaign_name=campaigns.get(task.campaign_id, ""),
                partner_id=task.partner_id,
                partner_name=partners.get(task.partner_id, ""),
                state=states[task.partner_campaign_id],
                due_at=task.due_at,
                overdue=is_overdue(task, now),
                escalation_level=task.escalation_level,
                stage=stage_read(task),
                on_behalf_of=identity.for_user,
                created_at=task.created_at,
            )
        )
    return out
