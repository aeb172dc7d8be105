"""The brand's suppression list: HQ reads it, adds and lifts manual entries. Entries that came
from a partner's contacts show their address only where HQ may see that partner's contact data
(services.suppression)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import SessionDep
from api.routers.params import PagingDep, page_of
from api.security import SuppressionManager
from models.contact_schemas import SuppressionCreate, SuppressionRead
from models.contacts import SuppressionReason
from models.schemas import Page
from services import suppression as svc
from services.access import brand_contact_data_partners

router = APIRouter(prefix="/api/v1/suppressions", tags=["suppressions"])


@router.get("", response_model=Page[SuppressionRead], summary="List the brand's suppression list")
def list_suppressions(
    principal: SuppressionManager,
    session: SessionDep,
    paging: PagingDep,
    q: Annotated[str | None, Query(max_length=254, description="part of the address")] = None,
    reason: SuppressionReason | None = None,
    sort: str = svc.SUPPRESSIONS.sort_query(),
) -> Page[SuppressionRead]:
    partners = brand_contact_data_partners(session, principal)
    result = svc.list_suppressions(
        session,
        principal.brand_id,
        partners=partners,
        q=q,
        paging=paging,
        reason=reason.value if reason else None,
        sort=sort,
    )
    return page_of(result, paging, (svc.read_of(r, partners) for r in result.items))


@router.post(
    "",
    response_model=SuppressionRead,
    status_code=201,
    summary="Add an address to the suppression list",
)
def add_suppression(
    principal: SuppressionManager, session: SessionDep, body: SuppressionCreate
) -> SuppressionRead:
    """Idempotent: an address already on the list keeps its entry (and its reason; its detail
    stays withheld when it came from a partner that does not share its contacts)."""
    row = svc.suppress(
        session,
        principal.brand_id,
        body.email,
        SuppressionReason.manual,
        body.detail,
        source="api",
        created_by=principal.user_id,
    )
    return svc.read_of(row, brand_contact_data_partners(session, principal))


@router.delete("/{suppression_id}", status_code=204, summary="Remove a manual suppression")
def remove_suppression(
    principal: SuppressionManager, session: SessionDep, suppression_id: int
) -> Response:
    svc.remove_manual(session, svc.load(session, principal.brand_id, suppression_id))
    return Response(status_code=204)
