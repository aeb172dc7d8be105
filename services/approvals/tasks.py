"""Approval tasks as the chain projects them: the waiting stage of each partner campaign,
read back for the inbox, the partner campaign's reads and the portal."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from approvals.policy import Approver
from domain.states import TaskKind
from models.campaign_schemas import StageRead
from models.campaigns import ApprovalTask


def approvers_of(task: ApprovalTask) -> list[Approver]:
    return [Approver.model_validate(a) for a in task.approvers]


def open_approvals(
    session: Session, partner_campaign_ids: Iterable[int]
) -> dict[int, ApprovalTask]:
    """The open approval task of each partner campaign that has one (one query)."""
    ids = sorted(set(partner_campaign_ids))
    if not ids:
        return {}
    tasks = session.exec(
        select(ApprovalTask).where(
            col(ApprovalTask.partner_campaign_id).in_(ids),
            ApprovalTask.kind == TaskKind.approve,
            col(ApprovalTask.open).is_(True),
        )
    ).all()
    return {t.partner_campaign_id: t for t in tasks}


def stage_read(task: ApprovalTask, names: dict[int, str] | None = None) -> StageRead | None:
    if task.kind != TaskKind.approve or task.stage is None:
        return None
    return StageRead(
        name=task.stage,
        label=task.stage_label or task.stage,
        deciders=[a.label(names) for a in approvers_of(task)],
        rule="any" if task.required == 1 else f"{task.required} approvals",
        required=task.required,
        approvals=task.approvals,
        blocked=task.blocked,
    )
