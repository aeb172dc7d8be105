"""The caller's delegations: stand-ins for their approvals over a period (a holiday), given
and received. Anyone may be named as an approver in a policy, so every signed-in user may
delegate; the delegate must be an active user of the same brand, and only what the approver's
approvals need is lent (services.approvals.delegations)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import RequestIdDep, SessionDep
from api.routers.params import PagingDep, page_of
from api.security import SignedIn
from models.approval_schemas import DelegationCreate, DelegationRead, Direction
from models.schemas import Page
from services.approvals import delegations as svc
from services.org import Actor

router = APIRouter(prefix="/api/v1", tags=["delegations"])


@router.get(
    "/me/delegations",
    response_model=Page[DelegationRead],
    summary="List one's delegations (given and received)",
)
def list_delegations(
    principal: SignedIn,
    session: SessionDep,
    paging: PagingDep,
    direction: Annotated[
        Direction | None, Query(description="given: by the caller; received: to the caller")
    ] = None,
    sort: str = svc.DELEGATIONS.sort_query(),
) -> Page[DelegationRead]:
    """Delegations not yet over or revoked, given and received, by start."""
    result = svc.page_of_mine(session, principal, paging, direction, sort)
    return page_of(result, paging, svc.delegation_reads(session, principal, result.items))


@router.post(
    "/me/delegations",
    response_model=DelegationRead,
    status_code=201,
    summary="Delegate one's approvals to a stand-in",
)
def create_delegation(
    principal: SignedIn, session: SessionDep, rid: RequestIdDep, body: DelegationCreate
) -> DelegationRead:
    """Name a colleague (delegate_id or delegate_email) who decides the caller's approvals
    between starts_at and ends_at (at most a year); audited."""
    row = svc.create(
        session,
        Actor(principal, rid),
        body.delegate_id,
        body.starts_at,
        body.ends_at,
        body.note,
        delegate_email=body.delegate_email,
    )
    return svc.delegation_reads(session, principal, [row])[0]


@router.post(
    "/me/delegations/{delegation_id}/revoke",
    response_model=DelegationRead,
    summary="Revoke a delegation",
)
def revoke_delegation(
    principal: SignedIn,
    session: SessionDep,
    rid: RequestIdDep,
    delegation_id: Annotated[int, Path(description="one of the caller's own delegations")],
) -> DelegationRead:
    """Ends one of the caller's own delegations now (404 for anyone else's); audited."""
    row = svc.revoke(session, Actor(principal, rid), delegation_id)
    return svc.delegation_reads(session, principal, [row])[0]
