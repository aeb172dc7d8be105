"""The asset library: upload, search, metadata, versions, review and signed downloads."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import RedirectResponse

from api.deps import BlobStoreDep, RequestIdDep, SessionDep, SettingsDep
from api.routers.params import PagingDep, page_of
from api.security import AssetReader, AssetReviewer, AssetUploader
from core.errors import FieldError
from core.policy import Permission
from models.asset_schemas import (
    AssetDecision,
    AssetRead,
    AssetUpdate,
    AssetVersionRead,
    parse_tags,
)
from models.schemas import Page
from services import asset_publication as publication
from services import assets as svc
from services.org import Actor
from storage.redirects import same_origin

router = APIRouter(prefix="/api/v1", tags=["assets"])
Rendition = Literal["original", "thumb", "web"]


async def _read_upload(file: UploadFile, max_bytes: int) -> svc.Upload:
    """At most the limit plus one byte: enough to say "too large" without reading it all."""
    data = await file.read(max_bytes + 1)
    return svc.Upload(data=data, filename=file.filename or "")


def _tags(raw: str) -> list[str]:
    try:
        return parse_tags(raw)
    except ValueError as err:
        raise FieldError("tags", str(err)) from err


def _regions(raw: str) -> list[int]:
    try:
        return [int(p) for p in raw.split(",") if p.strip()]
    except ValueError as err:
        raise FieldError("allowed_region_ids", "must be region ids separated by commas") from err


@router.get("/assets", response_model=Page[AssetRead], summary="List assets of the library")
def list_assets(
    principal: AssetReader,
    session: SessionDep,
    paging: PagingDep,
    tag: Annotated[list[str] | None, Query(description="all of these tags")] = None,
    q: Annotated[str | None, Query(max_length=200, description="title, description, tags")] = None,
    state: Literal["pending", "approved", "rejected", "archived"] | None = None,
    sort: str = svc.ASSETS.sort_query(),
) -> Page[AssetRead]:
    result = svc.list_assets(
        session,
        principal,
        tags=_tags(",".join(tag or [])),
        q=q,
        state=state,
        paging=paging,
        sort=sort,
    )
    return page_of(result, paging, (svc.asset_read(session, a) for a in result.items))


@router.post("/assets", response_model=AssetRead, status_code=201, summary="Upload an asset")
async def upload_asset(
    principal: AssetUploader,
    session: SessionDep,
    settings: SettingsDep,
    store: BlobStoreDep,
    rid: RequestIdDep,
    file: Annotated[UploadFile, File(description="the image or PDF")],
    title: Annotated[str, Form(min_length=1, max_length=200)],
    tags: Annotated[str, Form(description="comma-separated")] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
    alt_text: Annotated[
        str, Form(max_length=300, description="what the image shows (required for email)")
    ] = "",
    partner_id: Annotated[int | None, Form(description="a partner's local asset")] = None,
    licence_expires_on: Annotated[date | None, Form()] = None,
    allowed_region_ids: Annotated[str, Form(description="comma-separated; empty: all")] = "",
) -> AssetRead:
    asset = svc.upload_asset(
        session,
        store,
        Actor(principal, rid),
        await _read_upload(file, settings.asset_max_bytes),
        title=title.strip(),
        tags=_tags(tags),
        description=description,
        alt_text=alt_text,
        partner_id=partner_id,
        licence_expires_on=licence_expires_on,
        allowed_region_ids=_regions(allowed_region_ids),
        max_bytes=settings.asset_max_bytes,
    )
    return svc.asset_read(session, asset)


@router.get("/assets/{asset_id}", response_model=AssetRead, summary="Read an asset")
def read_asset(principal: AssetReader, session: SessionDep, asset_id: int) -> AssetRead:
    return svc.asset_read(session, svc.load_asset(session, principal, asset_id))


@router.patch("/assets/{asset_id}", response_model=AssetRead, summary="Update an asset's metadata")
def update_asset(
    principal: AssetUploader,
    session: SessionDep,
    rid: RequestIdDep,
    asset_id: int,
    body: AssetUpdate,
) -> AssetRead:
    asset = svc.load_asset(session, principal, asset_id, Permission.asset_upload)
    return svc.asset_read(session, svc.update_asset(session, Actor(principal, rid), asset, body))


@router.delete("/assets/{asset_id}", response_model=AssetRead, summary="Archive an asset")
def archive_asset(
    principal: AssetUploader,
    session: SessionDep,
    store: BlobStoreDep,
    rid: RequestIdDep,
    asset_id: int,
) -> AssetRead:
    """Archives, never deletes: campaigns that used the asset keep their files, but its images
    in sent emails are no longer served (their public URLs answer 410)."""
    asset = svc.load_asset(session, principal, asset_id, Permission.asset_upload)
    archived = svc.archive_asset(session, Actor(principal, rid), asset)
    publication.unpublish_asset(session, store, archived, "archived")
    return svc.asset_read(session, archived)


@router.get(
    "/assets/{asset_id}/versions",
    response_model=list[AssetVersionRead],
    summary="List an asset's versions",
)
def list_asset_versions(
    principal: AssetReader, session: SessionDep, asset_id: int
) -> list[AssetVersionRead]:
    asset = svc.load_asset(session, principal, asset_id)
    return [
        AssetVersionRead(
            number=v.number,
            filename=v.filename,
            content_type=v.content_type,
            size=v.size,
            width=v.width,
            height=v.height,
            checksum=v.checksum,
            renditions=svc.renditions_read(v),
            uploaded_by=v.uploaded_by,
            created_at=v.created_at,
        )
        for v in svc.versions_of(session, asset)
    ]


@router.post(
    "/assets/{asset_id}/versions",
    response_model=AssetRead,
    status_code=201,
    summary="Upload a new version of an asset",
)
async def add_asset_version(
    principal: AssetUploader,
    session: SessionDep,
    settings: SettingsDep,
    store: BlobStoreDep,
    rid: RequestIdDep,
    asset_id: int,
    file: Annotated[UploadFile, File(description="the new file")],
) -> AssetRead:
    asset = svc.load_asset(session, principal, asset_id, Permission.asset_upload)
    upload = await _read_upload(file, settings.asset_max_bytes)
    asset = svc.add_version(
        session, store, Actor(principal, rid), asset, upload, settings.asset_max_bytes
    )
    return svc.asset_read(session, asset)


@router.get(
    "/assets/{asset_id}/download",
    status_code=307,
    response_class=RedirectResponse,
    responses={307: {"description": "to a signed, expiring URL of the file", "content": {}}},
    summary="Download an asset (redirect to a signed URL)",
)
def download_asset(
    principal: AssetReader,
    session: SessionDep,
    settings: SettingsDep,
    store: BlobStoreDep,
    asset_id: int,
    rendition: Rendition = "original",
    version: Annotated[int | None, Query(ge=1)] = None,
) -> RedirectResponse:
    """A redirect to a signed, expiring URL (S3 presigned, or the API's /files route)."""
    asset = svc.load_asset(session, principal, asset_id)
    found = svc.version_of(session, asset, version)
    url = svc.download_url(store, found, rendition, settings.asset_url_ttl)
    return RedirectResponse(
        same_origin(store, url), status_code=307, headers={"Cache-Control": "no-store"}
    )


@router.post(
    "/assets/{asset_id}/decision",
    response_model=AssetRead,
    summary="Approve or reject a partner's asset",
)
def decide_asset(
    principal: AssetReviewer,
    session: SessionDep,
    rid: RequestIdDep,
    asset_id: int,
    body: AssetDecision,
) -> AssetRead:
    asset = svc.load_asset(session, principal, asset_id, Permission.asset_review)
    asset = svc.decide_asset(session, Actor(principal, rid), asset, body.decision, body.comment)
    return svc.asset_read(session, asset)
