"""Memberships: which role a user holds at brand, region or partner scope."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import RequestIdDep, SessionDep
from api.routers.params import PagingDep, page_of
from api.security import MembershipManager, UserReader
from core.policy import Permission
from models.org import Membership
from models.schemas import MembershipCreate, MembershipRead, Page
from services import org
from services.access import load

router = APIRouter(prefix="/api/v1/memberships", tags=["memberships"])


@router.get("", response_model=Page[MembershipRead], summary="List memberships")
def list_memberships(
    principal: UserReader,
    session: SessionDep,
    paging: PagingDep,
    user_id: int | None = None,
    sort: str = org.MEMBERSHIPS.sort_query(),
) -> Page[MembershipRead]:
    result = org.list_memberships(session, principal, paging, user_id, sort)
    return page_of(result, paging, (MembershipRead.model_validate(m) for m in result.items))


@router.post("", response_model=MembershipRead, status_code=201, summary="Give a user a role")
def create_membership(
    principal: MembershipManager, session: SessionDep, rid: RequestIdDep, body: MembershipCreate
) -> Membership:
    return org.create_membership(session, org.Actor(principal, rid), body)


@router.get("/{membership_id}", response_model=MembershipRead, summary="Read a membership")
def read_membership(principal: UserReader, session: SessionDep, membership_id: int) -> Membership:
    return load(session, principal, Membership, membership_id, read=Permission.user_read)


@router.delete("/{membership_id}", status_code=204, summary="Remove a membership")
def delete_membership(
    principal: MembershipManager, session: SessionDep, rid: RequestIdDep, membership_id: int
) -> Response:
    org.delete_membership(session, org.Actor(principal, rid), membership_id)
    return Response(status_code=204)
