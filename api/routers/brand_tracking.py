"""The brand's open and click tracking switches (off by default; brand admins change them)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from api.deps import RequestIdDep, SessionDep
from api.security import OrgReader, TrackingManager
from models.org import Brand
from services.engagement import tracking

router = APIRouter(prefix="/api/v1/brand/tracking", tags=["tracking"])


class TrackingSettings(BaseModel):
    open_tracking: bool
    click_tracking: bool


class TrackingUpdate(BaseModel):
    """Leave a field out to keep it as it is."""

    model_config = ConfigDict(extra="forbid")

    open_tracking: bool | None = None
    click_tracking: bool | None = None


@router.get("", response_model=TrackingSettings, summary="Read the brand's tracking settings")
def read_brand_tracking(principal: OrgReader, session: SessionDep) -> TrackingSettings:
    brand = session.get(Brand, principal.brand_id)
    assert brand is not None
    return TrackingSettings(**tracking.brand_settings(brand))


@router.put("", response_model=TrackingSettings, summary="Change the brand's tracking settings")
def update_brand_tracking(
    principal: TrackingManager, session: SessionDep, rid: RequestIdDep, body: TrackingUpdate
) -> TrackingSettings:
    brand = tracking.update_brand_settings(
        session,
        principal,
        rid,
        open_tracking=body.open_tracking,
        click_tracking=body.click_tracking,
    )
    return TrackingSettings(**tracking.brand_settings(brand))
