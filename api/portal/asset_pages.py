"""The asset library as a gallery, and thumbnails for the portal's pages (a redirect to the
store's signed, expiring URL, as the API's download route does)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import BlobStoreDep, SessionDep, SettingsDep
from api.portal.paging import CursorQuery, pager, portal_page
from api.portal.web import PortalAssetReader, PortalRoute, render
from core.errors import FieldError
from services import assets as svc

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])


@router.get("/assets", response_class=HTMLResponse)
def assets_page(
    principal: PortalAssetReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    cursor: CursorQuery = None,
) -> HTMLResponse:
    result = svc.list_assets(
        session,
        principal,
        tags=[tag] if tag else [],
        q=q or None,
        state=None,
        paging=portal_page(settings, cursor, limit=60),
    )
    return render(
        request,
        "assets.html",
        title="Assets",
        items=result.items,
        pager=pager(request, result, {"q": q, "tag": tag}),
        q=q or "",
        tag=tag or "",
    )


@router.get("/assets/{asset_id}/thumb")
def thumbnail(
    principal: PortalAssetReader,
    session: SessionDep,
    settings: SettingsDep,
    store: BlobStoreDep,
    asset_id: int,
) -> RedirectResponse:
    asset = svc.load_asset(session, principal, asset_id)
    version = svc.version_of(session, asset, None)
    try:
        url = svc.download_url(store, version, "thumb", settings.asset_url_ttl)
    except FieldError:
        url = svc.download_url(store, version, "original", settings.asset_url_ttl)
    return RedirectResponse(url, status_code=307)
