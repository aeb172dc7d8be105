"""The asset library as a gallery, one asset's page (its alt text and title, editable by those
who may change it), and thumbnails for the portal's pages (a redirect to the store's signed,
expiring URL, as the API's download route does)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import BlobStoreDep, RequestIdDep, SessionDep, SettingsDep
from api.portal.paging import CursorQuery, pager, portal_page
from api.portal.web import PortalAssetReader, PortalRoute, render
from core.errors import FieldError, Problem
from core.policy import Permission, Principal, allows
from i18n.translate import gettext
from models.asset_schemas import AssetUpdate
from models.assets import Asset
from services import assets as svc
from services.org import Actor
from storage.redirects import same_origin

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
        title=gettext("Assets"),
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
    return RedirectResponse(same_origin(store, url), status_code=307)


def _asset_page(
    request: Request,
    session: Session,
    principal: Principal,
    asset: Asset,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "asset.html",
        status=status,
        title=asset.title,
        a=asset,
        editable=allows(principal, Permission.asset_upload, svc.asset_target(asset)),
        form=form or {"title": asset.title, "alt_text": asset.alt_text},
        errors=errors or {},
        saved=saved,
    )


@router.get("/assets/{asset_id:int}", response_class=HTMLResponse)
def asset_page(
    principal: PortalAssetReader,
    request: Request,
    session: SessionDep,
    asset_id: int,
    saved: Annotated[int, Query(ge=0, le=1)] = 0,
) -> HTMLResponse:
    asset = svc.load_asset(session, principal, asset_id)
    return _asset_page(request, session, principal, asset, saved=bool(saved))


@router.post("/assets/{asset_id:int}", response_class=HTMLResponse)
async def save_asset(
    principal: PortalAssetReader,
    request: Request,
    session: SessionDep,
    rid: RequestIdDep,
    asset_id: int,
) -> Response:
    """Title and alt text; 422 with the field named when a value is refused."""
    asset = svc.load_asset(session, principal, asset_id, Permission.asset_upload)
    posted = await request.form()
    form = {
        key: value if isinstance(value := posted.get(key, ""), str) else ""
        for key in ("title", "alt_text")
    }
    try:
        body = AssetUpdate(title=form["title"].strip() or None, alt_text=form["alt_text"])
        svc.update_asset(session, Actor(principal, rid), asset, body)
    except ValidationError as err:
        session.rollback()
        errors = {str(e["loc"][0]): e["msg"] for e in err.errors() if e["loc"]}
        return _asset_page(request, session, principal, asset, form=form, errors=errors, status=422)
    except Problem as err:
        if err.status in (401, 403, 404):
            raise
        session.rollback()
        errors = {str(e.get("field")): str(e.get("message")) for e in err.errors or []}
        return _asset_page(
            request,
            session,
            principal,
            asset,
            form=form,
            errors=errors or {"form": err.detail},
            status=422,
        )
    return RedirectResponse(f"/assets/{asset_id}?saved=1", status_code=303)
