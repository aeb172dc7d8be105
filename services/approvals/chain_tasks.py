"""The approval chains of print orders and claims, seen from the API: which chain an object
pins, whose decision its open stage waits for (the ChainTask the workflow projects), and
sending a decision to the workflow with its refusals mapped to the API's problems.

`decider` applies approvals.engine.may_decide, the rule the workflow's validator applies, to
the caller and to every approver who delegated to them (services.inbox.acting_as does the same
for partner campaigns): the API offers exactly the decisions the workflow would accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowUpdateFailedError

from approvals.builtin import DEFAULT_REMIND, pinned_builtin
from approvals.engine import may_decide
from approvals.policy import (
    Approver,
    ApproverRole,
    PinnedPolicy,
    PolicySpec,
    Stage,
    Timeout,
    TimeoutAction,
)
from core.policy import Principal, Target
from core.settings import Settings, get_settings
from domain.money import ChainSubject
from models.approvals import ApprovalPolicy, ApprovalPolicyVersion
from models.campaigns import Campaign, PartnerCampaign
from models.chain_io import ChainDecision, ChainStatus
from models.chain_tasks import ChainTask
from models.org import Partner
from services.approvals.delegations import Identity, identities
from services.campaigns import aware
from services.workflow_updates import problem_from

CLAIMS_POLICY = "claims"


# Which chain an object runs ------------------------------------------------------------------


def builtin_claim_policy() -> PinnedPolicy:
    """Any brand reviewer decides a claim; reminded after two days, never expired by itself
    (the claim window does that)."""
    stage = Stage(
        name="claims",
        label="Claim review",
        approvers=[Approver(role=ApproverRole.brand_reviewer)],
        timeouts=[Timeout(after=DEFAULT_REMIND, action=TimeoutAction.remind)],
    )
    return PinnedPolicy(name=CLAIMS_POLICY, spec=PolicySpec(stages=[stage]))


def _current_version(session: Session, policy: ApprovalPolicy) -> PinnedPolicy | None:
    version = session.exec(
        select(ApprovalPolicyVersion)
        .where(ApprovalPolicyVersion.policy_id == policy.id)
        .order_by(col(ApprovalPolicyVersion.number).desc())
    ).first()
    if version is None:
        return None
    return PinnedPolicy(
        name=policy.name,
        spec=PolicySpec.model_validate(version.spec),
        policy_id=policy.id,
        version_id=version.id,
        version=version.number,
    )


def claim_policy(session: Session, brand_id: int, settings: Settings | None = None) -> PinnedPolicy:
    """The brand policy CLAIM_APPROVAL_POLICY names (its current version), when the brand has
    it and has not archived it; else the built-in "claims" chain."""
    name = (settings or get_settings()).claim_approval_policy.strip()
    if name:
        policy = session.exec(
            select(ApprovalPolicy).where(
                ApprovalPolicy.brand_id == brand_id,
                ApprovalPolicy.name == name,
                col(ApprovalPolicy.archived_at).is_(None),
            )
        ).first()
        pinned = _current_version(session, policy) if policy is not None else None
        if pinned is not None:
            return pinned
    return builtin_claim_policy()


def print_order_policy(session: Session, partner_campaign: PartnerCampaign) -> PinnedPolicy:
    """The chain the partner campaign itself pinned at launch (its policy version, or the
    campaign's built-in policy with the campaign's timeouts)."""
    campaign = session.get(Campaign, partner_campaign.campaign_id)
    if campaign is None:
        raise LookupError(f"campaign {partner_campaign.campaign_id} does not exist")
    version_id = partner_campaign.approval_policy_version_id or campaign.approval_policy_version_id
    if campaign.approval_policy_id is None:
        return pinned_builtin(
            campaign.approval_policy, campaign.remind_after, campaign.escalate_after
        )
    if version_id is not None:
        version = session.get(ApprovalPolicyVersion, version_id)
        if version is not None:
            return PinnedPolicy(
                name=campaign.approval_policy,
                spec=PolicySpec.model_validate(version.spec),
                policy_id=campaign.approval_policy_id,
                version_id=version.id,
                version=version.number,
            )
    policy = session.get(ApprovalPolicy, campaign.approval_policy_id)
    pinned = _current_version(session, policy) if policy is not None else None
    if pinned is None:
        raise LookupError(f"approval policy {campaign.approval_policy_id} has no version")
    return pinned


# Who decides ---------------------------------------------------------------------------------


def approvers_of(task: ChainTask) -> list[Approver]:
    return [Approver.model_validate(a) for a in task.approvers]


def target_of(task: ChainTask) -> Target:
    return Target(task.brand_id, task.region_id, task.partner_id)


def decider(session: Session, principal: Principal, task: ChainTask) -> Identity | None:
    """Who the caller would decide the open stage as: themselves first, else an approver who
    delegated to them; None when neither may (or nothing waits)."""
    if not task.open or task.brand_id != principal.brand_id:
        return None
    return _decider_among(identities(session, principal), task)


def _decider_among(mine: list[Identity], task: ChainTask) -> Identity | None:
    approvers, target = approvers_of(task), target_of(task)
    return next(
        (i for i in mine if may_decide(i.principal, approvers, target, task.excluded_user_ids)),
        None,
    )


def open_task(session: Session, subject: ChainSubject, subject_id: int) -> ChainTask | None:
    return session.exec(
        select(ChainTask).where(
            ChainTask.subject == subject,
            ChainTask.subject_id == subject_id,
            col(ChainTask.open).is_(True),
        )
    ).first()


def awaiting(session: Session, principal: Principal, subject: ChainSubject) -> list[ChainTask]:
    """The open tasks of this kind the caller may decide now, soonest due first (those
    without a due time last, on every database)."""
    tasks = session.exec(
        select(ChainTask)
        .where(
            ChainTask.subject == subject,
            ChainTask.brand_id == principal.brand_id,
            col(ChainTask.open).is_(True),
        )
        .order_by(col(ChainTask.due_at).is_(None), col(ChainTask.due_at), col(ChainTask.id))
    ).all()
    mine = identities(session, principal)
    return [t for t in tasks if _decider_among(mine, t) is not None]


@dataclass(frozen=True)
class InboxItem:
    """A print order or claim waiting for the caller's decision, as the portal's inbox lists it."""

    task: ChainTask
    title: str
    path: str


SUBJECT_PAGES = {
    ChainSubject.print_order: ("Print order", "/print-orders"),
    ChainSubject.claim: ("Co-op claim", "/claims"),
    ChainSubject.journey_activation: ("Journey switch-on", "/journey-activations"),
}


def inbox_items(session: Session, principal: Principal, limit: int = 50) -> list[InboxItem]:
    """Every kind's waiting decisions, soonest due first, at most `limit`."""
    tasks = [t for subject in SUBJECT_PAGES for t in awaiting(session, principal, subject)]
    far = datetime.max.replace(tzinfo=UTC)
    tasks.sort(key=lambda t: (aware(t.due_at) if t.due_at else far, t.id or 0))
    tasks = tasks[:limit]
    names = dict(
        session.exec(
            select(Partner.id, Partner.display_name).where(
                col(Partner.id).in_({t.partner_id for t in tasks})
            )
        ).all()
    )
    out = []
    for t in tasks:
        word, base = SUBJECT_PAGES[t.subject]
        partner = names.get(t.partner_id, f"partner {t.partner_id}")
        out.append(InboxItem(t, f"{word} {t.subject_id} for {partner}", f"{base}/{t.subject_id}"))
    return out


async def decide(client: Client, workflow_id: str, action: ChainDecision) -> ChainStatus:
    """Send a decision to the workflow's `decide` Update; its refusals become problems
    (404 not found, 403 forbidden, 409 conflict, 422 with the field)."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        status: ChainStatus = await handle.execute_update("decide", action, result_type=ChainStatus)
    except WorkflowUpdateFailedError as err:
        raise problem_from(err, "decision") from err
    return status
