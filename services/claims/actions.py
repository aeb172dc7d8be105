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
from core.policy import Permission, Principal, actor_of
from models.claim_io import ClaimConfirm, ClaimDecision, ClaimPayment, ClaimStatus
from models.claims import Claim
from services.claims.access import load
from services.workflow_updates import problem_from
from workflows.claim import ClaimWorkflow, may_decide

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


async def decide(
    session: Session,
    connect: Connect,
    principal: Principal,
    claim_id: int,
    decision: Literal["approve", "reject"],
    comment: str | None,
) -> Claim:
    """Brand reviewers and admins decide (the workflow's validator says so too)."""
    claim = load(session, principal, claim_id)
    actor = actor_of(principal)
    if not may_decide(actor, claim.brand_id):
        raise Forbidden("only HQ's brand reviewers decide claims")
    action = ClaimDecision(actor=actor, decision=decision, comment=comment)
    return await _update(session, connect, claim, ClaimWorkflow.decide, action)


async def pay(
    session: Session, connect: Connect, principal: Principal, claim_id: int, reference: str
) -> Claim:
    claim = load(session, principal, claim_id, Permission.claim_pay)
    action = ClaimPayment(actor=actor_of(principal), reference=reference)
    return await _update(session, connect, claim, ClaimWorkflow.record_payment, action)
