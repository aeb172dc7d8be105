"""Regions: territories grouping a brand's partners."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import RequestIdDep, SessionDep
from api.routers.params import PagingDep, page_of
from api.security import OrgReader, RegionManager
from models.org import Region
from models.schemas import Page, RegionCreate, RegionRead, RegionUpdate
from services import org
from services.access import load

router = APIRouter(prefix="/api/v1/regions", tags=["regions"])


@router.get("", response_model=Page[RegionRead], summary="List regions")
def list_regions(
    principal: OrgReader,
    session: SessionDep,
    paging: PagingDep,
    q: Annotated[str | None, Query(max_length=200, description="part of the name")] = None,
    sort: str = org.REGIONS.sort_query(),
) -> Page[RegionRead]:
    result = org.list_regions(session, principal, paging, q, sort)
    return page_of(result, paging, (RegionRead.model_validate(r) for r in result.items))


@router.post("", response_model=RegionRead, status_code=201, summary="Create a region")
def create_region(
    principal: RegionManager, session: SessionDep, rid: RequestIdDep, body: RegionCreate
) -> Region:
    return org.create_region(session, org.Actor(principal, rid), body)


@router.get("/{region_id}", response_model=RegionRead, summary="Read a region")
def read_region(principal: OrgReader, session: SessionDep, region_id: int) -> Region:
    return load(session, principal, Region, region_id)


@router.patch("/{region_id}", response_model=RegionRead, summary="Update a region")
def update_region(
    principal: RegionManager,
    session: SessionDep,
    rid: RequestIdDep,
    region_id: int,
    body: RegionUpdate,
) -> Region:
    return org.update_region(session, org.Actor(principal, rid), region_id, body)


@router.delete("/{region_id}", status_code=204, summary="Delete a region")
def delete_region(
    principal: RegionManager, session: SessionDep, rid: RequestIdDep, region_id: int
) -> Response:
    org.delete_region(session, org.Actor(principal, rid), region_id)
    return Response(status_code=204)
