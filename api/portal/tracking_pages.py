"""The brand's tracking switches in the portal (brand admins): open pixel and tracked links,
both off by default. The change goes through services.engagement.tracking, which checks the
scope and writes the audit event."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import RequestIdDep, SessionDep
from api.portal.web import PortalRoute, render
from api.portal.web import _guard as portal_guard
from core.policy import Permission, Principal
from i18n.translate import gettext
from models.org import Brand
from services.engagement import tracking

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])

PortalTrackingManager = Annotated[Principal, portal_guard(Permission.tracking_manage)]


@router.get("/settings/tracking", response_class=HTMLResponse)
def tracking_page(
    principal: PortalTrackingManager, request: Request, session: SessionDep
) -> HTMLResponse:
    brand = session.get(Brand, principal.brand_id)
    assert brand is not None
    return render(
        request,
        "tracking_settings.html",
        title=gettext("Tracking"),
        current=tracking.brand_settings(brand),
        flash=gettext("Saved.") if request.query_params.get("done") == "saved" else "",
    )


@router.post("/settings/tracking", response_class=RedirectResponse)
async def save_tracking(
    principal: PortalTrackingManager, request: Request, session: SessionDep, rid: RequestIdDep
) -> Response:
    posted = await request.form()
    tracking.update_brand_settings(
        session,
        principal,
        rid,
        open_tracking=posted.get("open_tracking") == "on",
        click_tracking=posted.get("click_tracking") == "on",
    )
    return RedirectResponse("/settings/tracking?done=saved", status_code=303)
