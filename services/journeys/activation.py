"""A partner's switch for a journey: switch on (with the partner's content per send step)
starts the approval chain of that content; approved -> `active`, rejected -> `rejected`;
switch off -> `off`. One JourneyActivation row per journey and partner, reused.

Who: a partner's own editor or GM requests the switch-on (partner_campaign.edit on a grant of
that partner: HQ and region managers read, they never switch a partner's journey on); the chain
decides (four eyes: the requester never decides their own request); only the GM switches off
(journey.activate on a grant of that partner). A GM who requests it themselves waits for
another GM of the partner, or, after the built-in stage's 4 days, the region manager.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from sqlmodel import Session, col, func, select
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from approvals.builtin import DEFAULT_ESCALATE, DEFAULT_REMIND, gm_stage
from approvals.facts import ApprovalFacts
from approvals.policy import PinnedPolicy, PolicySpec
from core.db import release_connection
from core.errors import Conflict, Forbidden, NotFound
from core.policy import (
    ROLE_PERMISSIONS,
    Permission,
    Principal,
    Target,
    actor_of,
    allows,
    has_permission_somewhere,
)
from core.settings import Settings, get_settings
from domain.journeys import ActivationState, JourneyState
from domain.money import ChainSubject
from domain.roles import ScopeType
from domain.workflow_ids import journey_activation_workflow_id
from models.approvals import ApprovalPolicy
from models.audit import AuditEvent
from models.base import utcnow
from models.chain_io import ChainDecision
from models.chain_tasks import ChainTask
from models.journey_activation_io import (
    ActivationChainInput,
    ActivationInput,
    ActivationTransition,
    ActivationWithdraw,
)
from models.journeys import Journey, JourneyActivation
from models.org import Partner
from services import audit
from services.approvals import chain_tasks, delegations
from services.approvals.chain_tasks import _current_version, decider, open_task
from services.approvals.facts import role_holders_at
from services.journeys import definition, design
from services.org import Actor, record_about

Connect = Callable[[], Awaitable[Client]]
BUILTIN = "journey"
REQUESTED = "journey_activation.requested"


def target_of(row: JourneyActivation) -> Target:
    return Target(row.brand_id, row.region_id, row.partner_id)


def partner_grant(principal: Principal, partner_id: int, permission: Permission) -> bool:
    """A grant of this very partner carrying `permission`: brand and region grants do not
    count (HQ's design runs only on data the partner itself released)."""
    return any(
        g.scope == ScopeType.partner
        and g.partner_id == partner_id
        and permission in ROLE_PERMISSIONS[g.role]
        for g in principal.grants
    )


def load_partner(
    session: Session, principal: Principal, journey: Journey, partner_id: int
) -> Partner:
    """The partner, when the caller may see it (404 otherwise, as for every object)."""
    partner = session.get(Partner, partner_id)
    if (
        partner is None
        or partner.brand_id != journey.brand_id
        or not allows(
            principal,
            Permission.journey_read,
            Target(partner.brand_id, partner.region_id, partner.id),
        )
    ):
        raise NotFound("partner", partner_id)
    return partner


def find(session: Session, journey_id: int, partner_id: int) -> JourneyActivation | None:
    return session.exec(
        select(JourneyActivation).where(
            JourneyActivation.journey_id == journey_id,
            JourneyActivation.partner_id == partner_id,
        )
    ).first()


def load(
    session: Session, principal: Principal, activation_id: int
) -> tuple[JourneyActivation, Journey]:
    row = session.get(JourneyActivation, activation_id)
    journey = session.get(Journey, row.journey_id) if row is not None else None
    if (
        row is None
        or journey is None
        or not design.visible(principal, journey)
        or not allows(principal, Permission.journey_read, target_of(row))
    ):
        raise NotFound("journey activation", activation_id)
    return row, journey


# The chain -------------------------------------------------------------------------------------


def builtin_policy() -> PinnedPolicy:
    """The partner's GM decides, reminded after 2 days, escalated to the region manager
    after 4 (the campaigns' `gm` policy with its default timeouts)."""
    stage = gm_stage(DEFAULT_REMIND, DEFAULT_ESCALATE)
    return PinnedPolicy(name=BUILTIN, spec=PolicySpec(stages=[stage]))


def policy_for(session: Session, brand_id: int, settings: Settings | None = None) -> PinnedPolicy:
    """The brand policy JOURNEY_APPROVAL_POLICY names (its current version) when the brand
    has it and has not archived it; else the built-in one."""
    name = (settings or get_settings()).journey_approval_policy.strip()
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
    return builtin_policy()


def chain_input(session: Session, settings: Settings, activation_id: int) -> ActivationChainInput:
    row = session.get(JourneyActivation, activation_id)
    if row is None:
        raise LookupError(f"journey activation {activation_id} does not exist")
    facts = ApprovalFacts(
        region_id=row.region_id,
        channel="email",
        role_holders=role_holders_at(session, target_of(row)),
        slots={
            k: v for step in row.values.values() if isinstance(step, dict) for k, v in step.items()
        },
    )
    return ActivationChainInput(policy=policy_for(session, row.brand_id, settings), facts=facts)


def task_of(session: Session, row: JourneyActivation) -> ChainTask | None:
    assert row.id is not None
    return open_task(session, ChainSubject.journey_activation, row.id)


def label(journey: Journey, partner: Partner) -> str:
    return f"journey “{journey.name}” for {partner.display_name}"


# Switching -------------------------------------------------------------------------------------


def _audit(
    session: Session, actor: Actor, action: str, row: JourneyActivation, after: dict[str, Any]
) -> None:
    record_about(
        session, actor, action, target_of(row), "journey_activation", str(row.id), None, after
    )


def _requests(session: Session, activation_id: int) -> int:
    return session.exec(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.action == REQUESTED,
            AuditEvent.entity_type == "journey_activation",
            AuditEvent.entity_id == str(activation_id),
        )
    ).one()


def request_on(
    session: Session,
    actor: Actor,
    journey: Journey,
    partner: Partner,
    values: dict[str, Any],
) -> tuple[JourneyActivation, ActivationInput]:
    """Check and write the request (state pending_approval, the current version pinned, the
    content stored); the caller starts the workflow. A request while one waits is a 409."""
    principal = actor.principal
    assert partner.id is not None and journey.id is not None
    if not partner_grant(principal, partner.id, Permission.partner_campaign_edit):
        raise Forbidden("Only the partner's own editor or GM switches a journey on")
    if journey.state != JourneyState.published:
        raise Conflict(f"journey {journey.id} is {journey.state.value}: only published ones run")
    row = find(session, journey.id, partner.id)
    if row is not None and row.state == ActivationState.pending_approval:
        raise Conflict("a switch-on request waits for approval already")
    if row is not None and row.state == ActivationState.active:
        raise Conflict("the journey runs for this partner already; switch it off first")
    spec = definition.parse(design.version_of(session, journey.id, journey.current_version).spec)
    errors = definition.value_errors(session, spec, partner, values)
    if errors:
        raise definition.refuse(errors, "Invalid content")
    if row is None:
        row = JourneyActivation(
            brand_id=partner.brand_id,
            region_id=partner.region_id,
            partner_id=partner.id,
            journey_id=journey.id,
            version=journey.current_version,
        )
    before = row.state.value if row.id is not None else None
    row.version = journey.current_version
    row.values = {k: dict(v) for k, v in values.items()}
    row.state = ActivationState.pending_approval
    row.reason = ""
    row.switched_on_by = principal.user_id
    row.switched_on_at = utcnow()
    row.approved_at = None
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    assert row.id is not None
    n = _requests(session, row.id) + 1
    row.workflow_id = f"{journey_activation_workflow_id(row.id)}-{n}"
    session.add(row)
    _audit(
        session,
        actor,
        REQUESTED,
        row,
        {"from": before, "to": row.state.value, "version": row.version, "values": row.values},
    )
    session.commit()
    session.refresh(row)
    inp = ActivationInput(
        activation_id=row.id,
        journey_id=journey.id,
        brand_id=row.brand_id,
        region_id=row.region_id,
        partner_id=row.partner_id,
        requested_by=principal.user_id,
        label=label(journey, partner),
    )
    return row, inp


async def start_workflow(
    client: Client, task_queue: str, workflow_id: str, inp: ActivationInput
) -> None:
    from workflows.journey_activation import JourneyActivationWorkflow

    with contextlib.suppress(WorkflowAlreadyStartedError):  # a retry: its workflow runs
        await client.start_workflow(
            JourneyActivationWorkflow.run,
            inp,
            id=workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            static_summary=f"Switch-on of {inp.label}",
        )


async def switch_on(
    session: Session,
    connect: Connect,
    settings: Settings,
    actor: Actor,
    journey: Journey,
    partner: Partner,
    values: dict[str, Any],
) -> JourneyActivation:
    row, inp = request_on(session, actor, journey, partner, values)
    release_connection(session)
    await start_workflow(await connect(), settings.temporal_task_queue, row.workflow_id, inp)
    session.refresh(row)
    return row


async def switch_off(
    session: Session,
    connect: Connect,
    actor: Actor,
    journey: Journey,
    partner: Partner,
    reason: str,
) -> JourneyActivation:
    """`off` at once (the run side stops enrolling and lets running contacts exit); a chain
    still waiting is withdrawn. Switching off what is off or never ran is a 409."""
    principal = actor.principal
    assert partner.id is not None and journey.id is not None
    if not partner_grant(principal, partner.id, Permission.journey_activate):
        raise Forbidden("Only the partner's GM switches a journey off")
    row = find(session, journey.id, partner.id)
    if row is None or row.state in (ActivationState.off, ActivationState.rejected):
        state = row.state.value if row else "not switched on"
        raise Conflict(f"the journey is {state} for this partner: nothing to switch off")
    was = row.state
    row.state = ActivationState.off
    row.reason = reason or "switched off by the GM"
    row.switched_off_by = principal.user_id
    row.switched_off_at = utcnow()
    row.updated_at = utcnow()
    session.add(row)
    _audit(
        session,
        actor,
        "journey_activation.switched_off",
        row,
        {"from": was.value, "to": "off", "reason": row.reason},
    )
    session.commit()
    session.refresh(row)
    if was == ActivationState.pending_approval and row.workflow_id:
        release_connection(session)
        handle = (await connect()).get_workflow_handle(row.workflow_id)
        try:
            await handle.signal(
                "withdraw", ActivationWithdraw(actor=actor_of(principal), comment=row.reason)
            )
        except RPCError as err:  # the chain had ended meanwhile: nothing waits
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
    return row


# Deciding --------------------------------------------------------------------------------------


def _decides_approvals(session: Session, principal: Principal) -> bool:
    return has_permission_somewhere(principal, Permission.partner_campaign_decide) or bool(
        delegations.active(session, principal.user_id)
    )


async def decide(
    session: Session,
    connect: Connect,
    principal: Principal,
    row: JourneyActivation,
    decision: Literal["approve", "request_changes", "reject"],
    comment: str | None,
) -> JourneyActivation:
    """A vote in the content's chain, as the caller or as the approver who delegated to them."""
    task = task_of(session, row)
    identity = decider(session, principal, task) if task is not None else None
    if identity is None:
        if task is None and _decides_approvals(session, principal):
            raise Conflict(f"the journey is {row.state.value}: nothing waits for a decision")
        raise Forbidden("You may not decide this switch-on request")
    action = ChainDecision(
        actor=actor_of(principal),
        decision=decision,
        comment=comment,
        on_behalf_of=actor_of(identity.principal) if identity.for_user else None,
    )
    release_connection(session)
    await chain_tasks.decide(await connect(), row.workflow_id, action)
    session.refresh(row)
    return row


# The workflow's projection ---------------------------------------------------------------------


def apply(session: Session, t: ActivationTransition) -> None:
    """The chain's outcome, once (by its audit key), and only on a row still waiting for this
    very request (a row switched off meanwhile stays off)."""
    key = f"{t.workflow_id}:activation:{t.event}"
    if session.exec(select(AuditEvent.id).where(AuditEvent.event_key == key)).first():
        return
    row = session.get(JourneyActivation, t.activation_id)
    if (
        row is None
        or row.state != ActivationState.pending_approval
        or row.workflow_id != t.workflow_id
    ):
        return
    to = ActivationState(t.to_state)
    row.state = to
    row.updated_at = t.at
    if to == ActivationState.active:
        row.approved_at = t.at
        row.reason = ""
    else:
        row.reason = (t.comment or "")[:1000]
    session.add(row)
    audit.append_in(
        session,
        audit.NewEvent(
            brand_id=row.brand_id,
            region_id=row.region_id,
            partner_id=row.partner_id,
            actor=f"workflow:{t.workflow_id}",
            action="journey_activation.state_changed",
            entity_type="journey_activation",
            entity_id=str(row.id),
            event_key=key,
            after={"from": "pending_approval", "to": to.value, "version": row.version},
            comment=t.comment,
            workflow_id=t.workflow_id,
            run_id=t.run_id,
            at=t.at,
        ),
    )
