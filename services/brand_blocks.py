"""Brand blocks in the database: HQ reads and replaces them; template versions snapshot them.

Rendering always goes through `blocks_for`: a version HQ can still edit shows the brand's
current blocks, any other version the snapshot it was submitted with. So a changed block
reaches templates on their next version and never changes an approved campaign.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from content.blocks import (
    BLOCK_MODELS,
    BlockKind,
    FooterBlock,
    HeaderBlock,
    ImageUrl,
    RenderedBlocks,
    render_snapshot,
)
from core.errors import FieldError, Forbidden, NotFound
from core.policy import Permission, Principal, Target, allows
from core.settings import Settings
from domain.states import TEMPLATE_EDITABLE
from models.assets import Asset, AssetState
from models.base import utcnow
from models.blocks import BrandBlock
from models.templates import TemplateVersion
from services import asset_publication
from services.org import Actor, record


def block_image_url(
    session: Session, settings: Settings, brand_id: int, *, publish: bool = False
) -> ImageUrl:
    """THE one place that decides how a header's logo (an asset uid) becomes an image URL:
    sends of approved partner campaigns publish it like an image slot (a stable public URL),
    previews and the block pages get a signed, expiring one. No URL (an archived or expired
    logo, an SVG) shows the brand name as text."""

    def image_url(uid: str) -> str | None:
        return asset_publication.url_of(session, settings, brand_id, uid, publish_images=publish)

    return image_url


def _require(principal: Principal, permission: Permission) -> None:
    if not allows(principal, permission, Target(principal.brand_id)):
        raise Forbidden(f"Your roles do not allow {permission.value} on brand blocks")


def current(session: Session, brand_id: int) -> dict[BlockKind, BrandBlock]:
    rows = session.exec(
        select(BrandBlock).where(BrandBlock.brand_id == brand_id).order_by(col(BrandBlock.kind))
    ).all()
    return {BlockKind(row.kind): row for row in rows}


def snapshot(session: Session, brand_id: int) -> dict[str, Any]:
    """The brand's blocks as a template version keeps them."""
    return {
        kind.value: {"version": row.version, "content": dict(row.content)}
        for kind, row in current(session, brand_id).items()
    }


def list_blocks(session: Session, principal: Principal) -> list[BrandBlock]:
    _require(principal, Permission.template_read)
    return list(current(session, principal.brand_id).values())


def get_block(session: Session, principal: Principal, kind: BlockKind) -> BrandBlock:
    _require(principal, Permission.template_read)
    row = current(session, principal.brand_id).get(kind)
    if row is None:
        raise NotFound("brand block", kind.value)
    return row


def _check_logo(session: Session, brand_id: int, uid: str | None, today: date) -> None:
    """The logo must be an approved, brand-wide image of this brand with a valid licence;
    another brand's uid answers as if it did not exist."""
    if uid is None:
        return
    asset = session.exec(select(Asset).where(Asset.uid == uid, Asset.brand_id == brand_id)).first()
    if asset is None:
        raise FieldError("logo_asset", f"{uid} is not in the brand's asset library")
    if asset.partner_id is not None:
        raise FieldError("logo_asset", f"{uid} is a partner's own asset, not a brand asset")
    if asset.state != AssetState.approved.value:
        raise FieldError("logo_asset", f"{uid} is {asset.state}; only approved assets qualify")
    if not asset.content_type.startswith("image/"):
        raise FieldError("logo_asset", f"{uid} is {asset.content_type}, not an image")
    if asset.licence_expires_on is not None and asset.licence_expires_on < today:
        expired = asset.licence_expires_on
        raise FieldError("logo_asset", f"the licence of {uid} expired on {expired}")


def put_block(
    session: Session, actor: Actor, kind: BlockKind, body: HeaderBlock | FooterBlock
) -> BrandBlock:
    """Replace the brand's block of `kind`; its version grows by one when the content
    changes (an identical PUT changes and records nothing)."""
    principal = actor.principal
    _require(principal, Permission.template_author)
    if not isinstance(body, BLOCK_MODELS[kind]):
        raise FieldError("kind", f"a {kind.value} block takes the {kind.value} fields")
    if isinstance(body, HeaderBlock):
        _check_logo(session, principal.brand_id, body.logo_asset, utcnow().date())
    content = body.model_dump(mode="json")
    row = current(session, principal.brand_id).get(kind)
    if row is not None and row.content == content:
        return row
    before = None if row is None else {"version": row.version, "content": row.content}
    if row is None:
        row = BrandBlock(
            brand_id=principal.brand_id,
            kind=kind.value,
            version=1,
            content=content,
            updated_by=principal.user_id,
        )
    else:
        row.version += 1
        row.content = content
        row.updated_by = principal.user_id
        row.updated_at = utcnow()
    session.add(row)
    session.flush()
    action = "brand_block.created" if before is None else "brand_block.updated"
    record(
        session,
        actor,
        action,
        row,
        before,
        {"kind": kind.value, "version": row.version, "content": content},
    )
    return row


def blocks_for(session: Session, version: TemplateVersion, image_url: ImageUrl) -> RenderedBlocks:
    """The blocks `version` renders with: the brand's current ones while HQ can still edit
    the version, else its snapshot (empty for versions older than brand blocks)."""
    if version.state in TEMPLATE_EDITABLE:
        return render_snapshot(snapshot(session, version.brand_id), image_url)
    return render_snapshot(version.blocks or {}, image_url)
