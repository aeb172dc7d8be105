"""The API's and the portal's human actions on a claim: one Update on its workflow as the
caller, refusals mapped to HTTP problems, then the row as the projection left it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from sqlmodel import Session
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from core.db import release_connection
from core.errors import Conflict, Forbidden
from core.policy import Permission, Principal, actor_of, has_permission_somewhere
from models.chain_io import ChainDecision
from models.claim_io import ClaimConfirm, ClaimPayment, ClaimStatus
from models.claims import Claim
from services.approvals import chain_tasks, delegations
from services.approvals.chain_tasks import decider
from services.claims.access import load
from services.claims.chain import task_of
from services.workflow_updates import problem_from
from workflows.claim import ClaimWorkflow

Connect = Callable[[], Awaitable[Client]]


async def _update(session: Session, connect: Connect, claim: Claim, update: Any, arg: Any) -> Claim:
    release_connection(session)
    handle = (await connect()).get_workflow_handle(claim.workflow_id)
    try:
        await handle.execute_update(update, arg, result_type=ClaimStatus)
    except WorkflowUpdateFailedError as err:
        raise problem_from(err, f"claim {claim.id}") from err
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        raise Conflict(f"claim {claim.id} is {claim.state}: it takes no more actions") from err
    session.refresh(claim)
    return claim


async def confirm(
    session: Session, connect: Connect, principal: Principal, claim_id: int, comment: str | None
) -> Claim:
    claim = load(session, principal, claim_id, Permission.claim_confirm)
    action = ClaimConfirm(actor=actor_of(principal), comment=comment)
    return await _update(session, connect, claim, ClaimWorkflow.confirm, action)


def _decides_approvals(session: Session, principal: Principal) -> bool:
    """Whether the caller decides approvals at all: by role, or standing in for someone."""
    return has_permission_somewhere(principal, Permission.partner_campaign_decide) or bool(
        delegations.active(session, principal.user_id)
    )


async def decide(
    session: Session,
    connect: Connect,
    principal: Principal,
    claim_id: int,
    decision: Literal["approve", "request_changes", "reject"],
    comment: str | None,
) -> Claim:
    """A vote in HQ's chain, as the caller or as the approver who delegated to them."""
    claim = load(session, principal, claim_id)
    task = task_of(session, claim)
    identity = decider(session, principal, task) if task is not None else None
    if identity is None:
        if task is None and _decides_approvals(session, principal):
            raise Conflict(f"claim {claim_id} is {claim.state}: nothing waits for a decision")
        raise Forbidden(f"You may not decide claim {claim_id}")
    action = ChainDecision(
        actor=actor_of(principal),
        decision=decision,
        comment=comment,
        on_behalf_of=actor_of(identity.principal) if identity.for_user else None,
    )
    release_connection(session)
    await chain_tasks.decide(await connect(), claim.workflow_id, action)
    session.refresh(claim)
    return claim


async def pay(
    session: Session, connect: Connect, principal: Principal, claim_id: int, reference: str
) -> Claim:
    claim = load(session, principal, claim_id, Permission.claim_pay)
    action = ClaimPayment(actor=actor_of(principal), reference=reference)
    return await _update(session, connect, claim, ClaimWorkflow.record_payment, action)
