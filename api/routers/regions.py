"""Regions: territories grouping a brand's partners."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import RequestIdDep, SessionDep
from api.routers.params import PagingDep
from api.security import OrgReader, RegionManager
from models.org import Region
from models.schemas import Page, RegionCreate, RegionRead, RegionUpdate
from services import org
from services.access import load

router = APIRouter(prefix="/api/v1/regions", tags=["regions"])


@router.get("", response_model=Page[RegionRead])
def list_regions(
    principal: OrgReader, session: SessionDep, paging: PagingDep, q: str | None = None
) -> Page[RegionRead]:
    rows, total = org.list_regions(session, principal, paging.limit, paging.offset, q)
    return Page(
        items=[RegionRead.model_validate(r) for r in rows],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.post("", response_model=RegionRead, status_code=201)
def create_region(
    principal: RegionManager, session: SessionDep, rid: RequestIdDep, body: RegionCreate
) -> Region:
    return org.create_region(session, org.Actor(principal, rid), body)


@router.get("/{region_id}", response_model=RegionRead)
def read_region(principal: OrgReader, session: SessionDep, region_id: int) -> Region:
    return load(session, principal, Region, region_id)


@router.patch("/{region_id}", response_model=RegionRead)
def update_region(
    principal: RegionManager,
    session: SessionDep,
    rid: RequestIdDep,
    region_id: int,
    body: RegionUpdate,
) -> Region:
    return org.update_region(session, org.Actor(principal, rid), region_id, body)


@router.delete("/{region_id}", status_code=204)
def delete_region(
    principal: RegionManager, session: SessionDep, rid: RequestIdDep, region_id: int
) -> Response:
    org.delete_region(session, org.Actor(principal, rid), region_id)
    return Response(status_code=204)
