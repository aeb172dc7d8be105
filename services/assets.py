"""The asset library's rules: who sees and uploads what, versions, review, signed downloads.

Brand assets (HQ uploads) are approved on upload and every partner of the brand may use them;
a partner's local assets are that partner's alone and wait for a brand reviewer. Blobs are
written before the row and removed again when anything after them fails, so a failed upload
leaves nothing behind.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from content.spec import AssetFacts
from core.errors import Conflict, FieldError, Forbidden, NotFound
from core.policy import (
    ROLE_PERMISSIONS,
    Permission,
    Principal,
    Target,
    allows,
    allows_in_brand,
    can_see,
    four_eyes_ok,
)
from domain.roles import ScopeType
from media.inspect import Inspected, UploadRejected, inspect_upload
from media.thumbnails import Rendition, renditions
from models.asset_schemas import AssetRead, AssetUpdate, RenditionRead
from models.assets import Asset, AssetState, AssetVersion
from models.base import utcnow
from models.org import Partner, Region
from services.access import scope_filter
from services.org import Actor, record, snapshot
from services.paging import Key, Listing, Paged, PageRequest, fetch
from storage.base import BlobStore, brand_key


@dataclass(frozen=True)
class Upload:
    """One file as received: bytes (at most the limit plus one) and the client's name."""

    data: bytes
    filename: str


def asset_target(asset: Asset) -> Target:
    return Target(asset.brand_id, asset.region_id, asset.partner_id)


def can_read(principal: Principal, asset: Asset) -> bool:
    if asset.partner_id is None:
        return allows_in_brand(principal, Permission.asset_read, asset.brand_id)
    return can_see(principal, asset_target(asset), Permission.asset_read)


def load_asset(
    session: Session,
    principal: Principal,
    asset_id: int,
    permission: Permission = Permission.asset_read,
) -> Asset:
    """The asset if the principal may read it (else 404) and holds `permission` on it (else 403).

    Changing a brand asset needs a brand-wide grant: partners use brand assets, never edit them.
    """
    asset = session.get(Asset, asset_id)
    if asset is None or not can_read(principal, asset):
        raise NotFound("asset", asset_id)
    if permission != Permission.asset_read and not allows(
        principal, permission, asset_target(asset)
    ):
        raise Forbidden(f"Your roles do not allow {permission.value} on asset {asset_id}")
    return asset


ASSETS = Listing(
    "assets",
    col(Asset.id),
    {
        "id": Key(col(Asset.id), "int"),
        "title": Key(col(Asset.title), "str"),
        "created_at": Key(col(Asset.created_at), "datetime"),
        "updated_at": Key(col(Asset.updated_at), "datetime"),
    },
    default="id",
)


def list_assets(
    session: Session,
    principal: Principal,
    *,
    tags: list[str],
    q: str | None,
    state: str | None,
    paging: PageRequest,
    sort: str = "id",
) -> Paged[Asset]:
    where: list[Any] = [
        col(Asset.brand_id) == principal.brand_id,
        or_(
            col(Asset.partner_id).is_(None),
            scope_filter(
                principal,
                Asset.brand_id,
                Asset.region_id,
                Asset.partner_id,
                Permission.asset_read,
            ),
        ),
    ]
    for tag in tags:
        where.append(col(Asset.tags_index).contains(f",{tag},"))
    if q:
        needle = f"%{q.strip().lower()}%"
        where.append(
            or_(
                func.lower(Asset.title).like(needle),
                func.lower(Asset.description).like(needle),
                col(Asset.tags_index).like(needle),
            )
        )
    if state:
        where.append(col(Asset.state) == state)
    return fetch(session, select(Asset).where(*where), ASSETS, sort, paging)


def _tags_index(tags: list[str]) -> str:
    return "," + "".join(f"{t}," for t in tags)


def _owner(session: Session, principal: Principal, partner_id: int | None) -> Partner | None:
    """Which partner an upload belongs to: None for a brand asset (HQ), else the partner."""
    brand_wide = allows(principal, Permission.asset_upload, Target(principal.brand_id))
    if partner_id is None:
        if brand_wide:
            return None
        own = sorted(
            {
                g.partner_id
                for g in principal.grants
                if g.scope == ScopeType.partner
                and g.partner_id is not None
                and Permission.asset_upload in ROLE_PERMISSIONS[g.role]
            }
        )
        if len(own) != 1:
            raise FieldError("partner_id", "say which of your partners this asset belongs to")
        partner_id = own[0]
    partner = session.get(Partner, partner_id)
    if partner is None or partner.brand_id != principal.brand_id:
        raise NotFound("partner", partner_id)
    target = Target(partner.brand_id, partner.region_id, partner.id)
    if not can_see(principal, target):
        raise NotFound("partner", partner_id)
    if not allows(principal, Permission.asset_upload, target):
        raise Forbidden(f"Your roles do not allow asset.upload for partner {partner_id}")
    return partner


def _check_regions(session: Session, brand_id: int, region_ids: list[int]) -> None:
    for rid in region_ids:
        region = session.get(Region, rid)
        if region is None or region.brand_id != brand_id:
            raise FieldError("allowed_region_ids", f"region {rid} does not exist")


@contextmanager
def blobs_removed_on_error(store: BlobStore) -> Iterator[list[str]]:
    """Collects written keys; if the block fails, deletes them so nothing is half-stored."""
    written: list[str] = []
    try:
        yield written
    except BaseException:
        for key in written:
            store.delete(key)
        raise


def _inspect(upload: Upload, max_bytes: int) -> Inspected:
    try:
        return inspect_upload(upload.data, upload.filename, max_bytes=max_bytes)
    except UploadRejected as err:
        raise FieldError(err.field, err.message) from err


def _store_version(
    store: BlobStore,
    written: list[str],
    asset: Asset,
    number: int,
    found: Inspected,
    uploader: int,
    rendered: dict[str, Rendition] | None = None,
) -> AssetVersion:
    assert asset.id is not None
    base = (f"assets/{asset.uid}", f"v{number}")
    original = brand_key(asset.brand_id, *base, f"original.{found.extension}")
    store.put(original, found.data, found.content_type)
    written.append(original)
    kept: dict[str, Any] = {}
    if rendered is None:
        rendered = renditions(found.data, found.content_type)
    for name, rendition in rendered.items():
        ext = "png" if rendition.content_type == "image/png" else "jpg"
        key = brand_key(asset.brand_id, *base, f"{name}.{ext}")
        store.put(key, rendition.data, rendition.content_type)
        written.append(key)
        kept[name] = {
            "key": key,
            "content_type": rendition.content_type,
            "width": rendition.width,
            "height": rendition.height,
        }
    return AssetVersion(
        asset_id=asset.id,
        number=number,
        filename=found.safe_name,
        storage_key=original,
        content_type=found.content_type,
        size=found.size,
        width=found.width,
        height=found.height,
        checksum=found.checksum,
        renditions=kept,
        uploaded_by=uploader,
    )


def _apply_file(asset: Asset, found: Inspected) -> None:
    asset.content_type = found.content_type
    asset.size = found.size
    asset.width = found.width
    asset.height = found.height
    asset.checksum = found.checksum


def upload_asset(
    session: Session,
    store: BlobStore,
    actor: Actor,
    upload: Upload,
    *,
    title: str,
    tags: list[str],
    description: str,
    partner_id: int | None,
    licence_expires_on: date | None,
    allowed_region_ids: list[int],
    max_bytes: int,
    alt_text: str = "",
) -> Asset:
    principal = actor.principal
    partner = _owner(session, principal, partner_id)
    _check_regions(session, principal.brand_id, allowed_region_ids)
    found = _inspect(upload, max_bytes)
    hq = allows(principal, Permission.asset_upload, Target(principal.brand_id))
    with blobs_removed_on_error(store) as written:
        asset = store_new_asset(
            session,
            store,
            written,
            NewAsset(
                brand_id=principal.brand_id,
                partner=partner,
                uploader_id=principal.user_id,
                title=title,
                tags=tags,
                description=description,
                alt_text=_plain_line("alt_text", alt_text),
                licence_expires_on=licence_expires_on,
                allowed_region_ids=allowed_region_ids,
                state=AssetState.approved if hq else AssetState.pending,
            ),
            found,
        )
        record(session, actor, "asset.uploaded", asset, None, snapshot(asset))
        session.commit()
    return asset


@dataclass(frozen=True)
class NewAsset:
    brand_id: int
    partner: Partner | None
    uploader_id: int
    title: str
    tags: list[str]
    description: str = ""
    alt_text: str = ""
    licence_expires_on: date | None = None
    allowed_region_ids: list[int] = field(default_factory=list)
    state: AssetState = AssetState.approved
    uid: str | None = None


def store_new_asset(
    session: Session,
    store: BlobStore,
    written: list[str],
    new: NewAsset,
    found: Inspected,
    rendered: dict[str, Rendition] | None = None,
) -> Asset:
    """Row, first version and blobs; the caller audits, commits and cleans up on failure.
    `rendered`: renditions computed earlier (the demo seed reuses them), else made here."""
    partner = new.partner
    asset = Asset(
        uid=new.uid or f"ast_{secrets.token_hex(6)}",
        brand_id=new.brand_id,
        partner_id=partner.id if partner else None,
        region_id=partner.region_id if partner else None,
        title=new.title,
        description=new.description,
        alt_text=new.alt_text,
        tags=new.tags,
        tags_index=_tags_index(new.tags),
        allowed_region_ids=new.allowed_region_ids,
        licence_expires_on=new.licence_expires_on,
        state=new.state.value,
        content_type=found.content_type,
        size=found.size,
        width=found.width,
        height=found.height,
        checksum=found.checksum,
        uploaded_by=new.uploader_id,
    )
    session.add(asset)
    session.flush()
    session.add(_store_version(store, written, asset, 1, found, new.uploader_id, rendered))
    return asset


def add_version(
    session: Session, store: BlobStore, actor: Actor, asset: Asset, upload: Upload, max_bytes: int
) -> Asset:
    """A new file for the same asset; older versions stay for the campaigns that used them.
    A partner's new file is a new thing to review, so its asset goes back to pending."""
    if asset.state == AssetState.archived:
        raise Conflict(f"asset {asset.id} is archived")
    found = _inspect(upload, max_bytes)
    before = snapshot(asset)
    hq = allows(actor.principal, Permission.asset_upload, Target(asset.brand_id))
    with blobs_removed_on_error(store) as written:
        number = asset.current_version + 1
        version = _store_version(store, written, asset, number, found, actor.principal.user_id)
        session.add(version)
        asset.current_version = number
        _apply_file(asset, found)
        if not hq:
            asset.state = AssetState.pending.value
            asset.decided_by = None
            asset.decision_comment = None
        asset.updated_at = utcnow()
        session.add(asset)
        record(session, actor, "asset.version_added", asset, before, snapshot(asset))
        session.commit()
    return asset


def update_asset(session: Session, actor: Actor, asset: Asset, body: AssetUpdate) -> Asset:
    before = snapshot(asset)
    changes = body.model_dump(exclude_unset=True)
    if "title" in changes and changes["title"] is None:
        raise FieldError("title", "must not be empty")
    if changes.get("allowed_region_ids") is not None:
        _check_regions(session, asset.brand_id, changes["allowed_region_ids"])
    for name, value in changes.items():
        if name == "tags":
            asset.tags = value or []
            asset.tags_index = _tags_index(asset.tags)
        elif name == "allowed_region_ids":
            asset.allowed_region_ids = value or []
        elif name == "description":
            asset.description = value or ""
        elif name == "alt_text":
            asset.alt_text = _plain_line("alt_text", value)
        else:
            setattr(asset, name, value)
    asset.updated_at = utcnow()
    session.add(asset)
    record(session, actor, "asset.updated", asset, before, snapshot(asset))
    return asset


def _plain_line(field: str, value: str | None) -> str:
    """Alt text is one line of plain text (it lands in an attribute, escaped when rendered)."""
    text = " ".join((value or "").split())
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise FieldError(field, "must not contain control characters")
    return text


def archive_asset(session: Session, actor: Actor, asset: Asset) -> Asset:
    """Archived assets stay stored (campaigns that used them keep working) but validation
    refuses them for new content."""
    before = snapshot(asset)
    asset.state = AssetState.archived.value
    asset.updated_at = utcnow()
    session.add(asset)
    record(session, actor, "asset.archived", asset, before, snapshot(asset))
    return asset


def decide_asset(
    session: Session, actor: Actor, asset: Asset, decision: str, comment: str | None
) -> Asset:
    if asset.partner_id is None:
        raise Conflict("brand assets are approved on upload; only partner uploads are reviewed")
    if asset.state != AssetState.pending:
        raise Conflict(f"asset {asset.id} is {asset.state}, not pending")
    uploader = session.exec(
        select(AssetVersion.uploaded_by).where(
            AssetVersion.asset_id == asset.id, AssetVersion.number == asset.current_version
        )
    ).one()
    if not four_eyes_ok(uploader, actor.principal.user_id):
        raise Forbidden("Four eyes: the uploader of an asset cannot decide on it")
    if decision == "reject" and not (comment and comment.strip()):
        raise FieldError("comment", "say why the asset is rejected")
    before = snapshot(asset)
    approved = decision == "approve"
    asset.state = (AssetState.approved if approved else AssetState.rejected).value
    asset.decided_by = actor.principal.user_id
    asset.decision_comment = comment
    asset.updated_at = utcnow()
    session.add(asset)
    action = "asset.approved" if approved else "asset.rejected"
    record(session, actor, action, asset, before, snapshot(asset))
    return asset


def versions_of(session: Session, asset: Asset) -> list[AssetVersion]:
    return list(
        session.exec(
            select(AssetVersion)
            .where(AssetVersion.asset_id == asset.id)
            .order_by(col(AssetVersion.number))
        ).all()
    )


def version_of(session: Session, asset: Asset, number: int | None) -> AssetVersion:
    wanted = number or asset.current_version
    version = session.exec(
        select(AssetVersion).where(AssetVersion.asset_id == asset.id, AssetVersion.number == wanted)
    ).first()
    if version is None:
        raise NotFound("asset version", wanted)
    return version


def download_url(store: BlobStore, version: AssetVersion, rendition: str, expires_in: int) -> str:
    if rendition == "original":
        return store.signed_url(
            version.storage_key, expires_in=expires_in, filename=version.filename
        )
    found = version.renditions.get(rendition)
    if found is None:
        raise FieldError("rendition", f"this file has no {rendition} rendition (only the original)")
    return store.signed_url(str(found["key"]), expires_in=expires_in)


def asset_read(session: Session, asset: Asset) -> AssetRead:
    assert asset.id is not None
    current = version_of(session, asset, None)
    return AssetRead(
        id=asset.id,
        uid=asset.uid,
        brand_id=asset.brand_id,
        partner_id=asset.partner_id,
        title=asset.title,
        description=asset.description,
        alt_text=asset.alt_text,
        tags=asset.tags,
        content_type=asset.content_type,
        size=asset.size,
        width=asset.width,
        height=asset.height,
        checksum=asset.checksum,
        licence_expires_on=asset.licence_expires_on,
        allowed_region_ids=asset.allowed_region_ids,
        state=asset.state,
        current_version=asset.current_version,
        renditions=sorted(current.renditions),
        uploaded_by=asset.uploaded_by,
        decided_by=asset.decided_by,
        decision_comment=asset.decision_comment,
        created_at=asset.created_at,
        updated_at=asset.updated_at,
    )


def renditions_read(version: AssetVersion) -> dict[str, RenditionRead]:
    return {
        name: RenditionRead(
            content_type=r["content_type"], width=int(r["width"]), height=int(r["height"])
        )
        for name, r in version.renditions.items()
    }


def asset_facts(session: Session, brand_id: int, uids: set[str]) -> dict[str, AssetFacts]:
    """The library facts validation needs, for one brand, in one query."""
    if not uids:
        return {}
    rows = session.exec(
        select(Asset).where(Asset.brand_id == brand_id, col(Asset.uid).in_(sorted(uids)))
    ).all()
    return {
        a.uid: AssetFacts(
            uid=a.uid,
            title=a.title,
            state=a.state,
            tags=list(a.tags),
            licence_expires_on=a.licence_expires_on,
            allowed_region_ids=list(a.allowed_region_ids),
            partner_id=a.partner_id,
            alt_text=a.alt_text,
        )
        for a in rows
    }


__all__ = [
    "NewAsset",
    "Upload",
    "add_version",
    "archive_asset",
    "asset_facts",
    "asset_read",
    "blobs_removed_on_error",
    "decide_asset",
    "download_url",
    "list_assets",
    "load_asset",
    "store_new_asset",
    "update_asset",
    "upload_asset",
    "version_of",
    "versions_of",
]
