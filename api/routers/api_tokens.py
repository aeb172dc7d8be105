"""API tokens for integrations: created by a brand admin for a user, shown once."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import RequestIdDep, SessionDep
from api.routers.params import PagingDep, page_of
from api.security import ApiTokenManager
from core.policy import Permission
from models.org import ApiToken
from models.schemas import ApiTokenCreate, ApiTokenCreated, ApiTokenRead, Page
from services import org
from services.access import load

router = APIRouter(prefix="/api/v1/api-tokens", tags=["api-tokens"])


@router.get("", response_model=Page[ApiTokenRead], summary="List API tokens")
def list_api_tokens(
    principal: ApiTokenManager,
    session: SessionDep,
    paging: PagingDep,
    user_id: int | None = None,
    sort: str = org.API_TOKENS.sort_query(),
) -> Page[ApiTokenRead]:
    result = org.list_api_tokens(session, principal, paging, user_id, sort)
    return page_of(result, paging, (ApiTokenRead.model_validate(t) for t in result.items))


@router.post(
    "",
    response_model=ApiTokenCreated,
    status_code=201,
    summary="Create an API token (the secret is shown once)",
)
def create_api_token(
    principal: ApiTokenManager, session: SessionDep, rid: RequestIdDep, body: ApiTokenCreate
) -> ApiTokenCreated:
    token, secret = org.create_api_token(session, org.Actor(principal, rid), body)
    return ApiTokenCreated(**ApiTokenRead.model_validate(token).model_dump(), token=secret)


@router.get("/{token_id}", response_model=ApiTokenRead, summary="Read an API token")
def read_api_token(principal: ApiTokenManager, session: SessionDep, token_id: int) -> ApiToken:
    return load(
        session,
        principal,
        ApiToken,
        token_id,
        Permission.api_token_manage,
        read=Permission.api_token_manage,
        label="api token",
    )


@router.delete("/{token_id}", response_model=ApiTokenRead, summary="Revoke an API token")
def revoke_api_token(
    principal: ApiTokenManager, session: SessionDep, rid: RequestIdDep, token_id: int
) -> ApiToken:
    return org.revoke_api_token(session, org.Actor(principal, rid), token_id)
