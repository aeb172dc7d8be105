"""Partners: local units and their profile (data templates use)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import RequestIdDep, SessionDep
from api.routers.params import PagingDep, page_of
from api.security import OrgReader, PartnerManager, PartnerProfileEditor
from models.org import Partner
from models.schemas import Page, PartnerCreate, PartnerRead, PartnerUpdate
from services import org
from services.access import load

router = APIRouter(prefix="/api/v1/partners", tags=["partners"])


@router.get("", response_model=Page[PartnerRead], summary="List partners")
def list_partners(
    principal: OrgReader,
    session: SessionDep,
    paging: PagingDep,
    region_id: Annotated[int | None, Query(description="partners of this region")] = None,
    q: Annotated[str | None, Query(max_length=200, description="part of the name")] = None,
    sort: str = org.PARTNERS.sort_query("(`name` is the display name)"),
) -> Page[PartnerRead]:
    result = org.list_partners(session, principal, paging, region_id, q, sort)
    return page_of(result, paging, (PartnerRead.model_validate(p) for p in result.items))


@router.post("", response_model=PartnerRead, status_code=201, summary="Create a partner")
def create_partner(
    principal: PartnerManager, session: SessionDep, rid: RequestIdDep, body: PartnerCreate
) -> Partner:
    return org.create_partner(session, org.Actor(principal, rid), body)


@router.get("/{partner_id}", response_model=PartnerRead, summary="Read a partner")
def read_partner(principal: OrgReader, session: SessionDep, partner_id: int) -> Partner:
    return load(session, principal, Partner, partner_id)


@router.patch("/{partner_id}", response_model=PartnerRead, summary="Update a partner")
def update_partner(
    principal: PartnerProfileEditor,
    session: SessionDep,
    rid: RequestIdDep,
    partner_id: int,
    body: PartnerUpdate,
) -> Partner:
    return org.update_partner(session, org.Actor(principal, rid), partner_id, body)


@router.delete("/{partner_id}", status_code=204, summary="Delete a partner")
def delete_partner(
    principal: PartnerManager, session: SessionDep, rid: RequestIdDep, partner_id: int
) -> Response:
    org.delete_partner(session, org.Actor(principal, rid), partner_id)
    return Response(status_code=204)
