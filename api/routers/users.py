"""Users of a brand (brand admins manage them; deletion is deactivation)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import RequestIdDep, SessionDep
from api.routers.params import PagingDep, page_of
from api.security import UserManager, UserReader
from core.policy import Permission
from models.org import User
from models.schemas import Page, UserCreate, UserRead, UserUpdate
from services import org
from services.access import load

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.get("", response_model=Page[UserRead], summary="List users")
def list_users(
    principal: UserReader,
    session: SessionDep,
    paging: PagingDep,
    q: Annotated[str | None, Query(max_length=254, description="part of the email")] = None,
    sort: str = org.USERS.sort_query(),
) -> Page[UserRead]:
    result = org.list_users(session, principal, paging, q, sort)
    return page_of(result, paging, (UserRead.model_validate(u) for u in result.items))


@router.post("", response_model=UserRead, status_code=201, summary="Create a user")
def create_user(
    principal: UserManager, session: SessionDep, rid: RequestIdDep, body: UserCreate
) -> User:
    return org.create_user(session, org.Actor(principal, rid), body)


@router.get("/{user_id}", response_model=UserRead, summary="Read a user")
def read_user(principal: UserReader, session: SessionDep, user_id: int) -> User:
    return load(session, principal, User, user_id, read=Permission.user_read)


@router.patch("/{user_id}", response_model=UserRead, summary="Update a user")
def update_user(
    principal: UserManager, session: SessionDep, rid: RequestIdDep, user_id: int, body: UserUpdate
) -> User:
    return org.update_user(session, org.Actor(principal, rid), user_id, body)


@router.delete("/{user_id}", response_model=UserRead, summary="Deactivate a user")
def deactivate_user(
    principal: UserManager, session: SessionDep, rid: RequestIdDep, user_id: int
) -> User:
    return org.deactivate_user(session, org.Actor(principal, rid), user_id)
