"""Images in emails and print: stable public URLs for sent emails, signed ones for previews.

An email is read months after it was sent, so its images cannot use the library's signed,
expiring links. A send of an approved partner campaign *publishes* the web rendition of each
asset it shows: one AssetPublication row per asset version and rendition with a random token,
reused by every later send, served without sign-in at PUBLIC_BASE_URL/i/{token} (api.routers.
images), or, with S3 and ASSET_PUBLIC_BASE_URL, copied under a public-read prefix of the
bucket and served by S3 or a CDN. Archiving an asset or an expired licence unpublishes: the
route answers 410 and S3 copies are deleted. Previews never publish: they get signed URLs.
Print PDFs embed the full-resolution original, read from the store by WeasyPrint's URL fetcher.

Tokens are public by design (anyone holding an email may pass its image on); they are
unguessable (192 random bits), never listed, and name one rendition of one approved image.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from content.images import ImageRef, display_size
from content.spec import SlotKind, TemplateContent
from core.settings import AssetStore, Settings
from domain.states import PartnerCampaignState as PC
from models.assets import Asset, AssetPublication, AssetState, AssetVersion
from models.base import utcnow
from storage.base import BlobNotFound, BlobStore

EMAIL_RENDITION = "web"
PUBLIC_PREFIX = "public/i/"  # object keys of S3 public copies: public/i/{token}.{ext}
PRINT_SCHEME = "brandrelay-asset:"  # print HTML names originals so; only render_pdf reads them
# Types the public route serves: renditions are always JPEG or PNG (media.thumbnails); SVG is
# never published (it can carry script when opened directly).
SERVED_TYPES = frozenset({"image/jpeg", "image/png"})
# Partner campaign states whose sends publish: approved by every stage of its chain.
PUBLISHING_STATES = frozenset({PC.approved, PC.scheduled, PC.sending, PC.sent, PC.partially_sent})


def asset_uids(content: TemplateContent, resolved: Mapping[str, Any]) -> dict[str, str]:
    """Asset slot name -> the asset id it resolved to (slots left empty are left out)."""
    found: dict[str, str] = {}
    for slot in content.slots:
        value = resolved.get(slot.name)
        if slot.kind == SlotKind.asset and isinstance(value, str) and value:
            found[slot.name] = str(value)
    return found


def with_images(
    content: TemplateContent, resolved: Mapping[str, Any], refs: Mapping[str, ImageRef]
) -> dict[str, Any]:
    """`resolved` with each asset slot's id replaced by its ImageRef (the same text)."""
    out = dict(resolved)
    for name, uid in asset_uids(content, resolved).items():
        if uid in refs:
            out[name] = refs[uid]
    return out


def usable_today(asset: Asset, today: date) -> bool:
    """May this asset be shown to recipients today: approved and licensed."""
    expires = asset.licence_expires_on
    return asset.state == AssetState.approved and (expires is None or expires >= today)


def _assets(session: Session, brand_id: int, uids: set[str]) -> list[tuple[Asset, AssetVersion]]:
    if not uids:
        return []
    rows = session.exec(
        select(Asset, AssetVersion)
        .join(AssetVersion, col(AssetVersion.asset_id) == col(Asset.id))
        .where(
            Asset.brand_id == brand_id,
            col(Asset.uid).in_(sorted(uids)),
            col(AssetVersion.number) == col(Asset.current_version),
        )
    ).all()
    return [(a, v) for a, v in rows]


def _alt(asset: Asset) -> str:
    """The asset's alt text; its title until someone writes one (validation asks for it before
    an email template uses the image, sends of older campaigns fall back to the title)."""
    return asset.alt_text.strip() or asset.title


def public_url(settings: Settings, publication: AssetPublication) -> str:
    if publication.public_key is not None and settings.asset_public_base_url:
        return f"{settings.asset_public_base_url.rstrip('/')}/{publication.public_key}"
    return f"{settings.public_base_url.rstrip('/')}/i/{publication.token}"


def _s3_public(settings: Settings) -> bool:
    return settings.asset_store == AssetStore.s3 and bool(settings.asset_public_base_url)


def publish(
    session: Session, settings: Settings, store: BlobStore, asset: Asset, version: AssetVersion
) -> AssetPublication | None:
    """The live publication of the version's email rendition, made on first use (idempotent,
    safe against a concurrent send: the unique key decides, the loser reads the winner's row).
    None when the version has no email rendition (SVG, PDF). Committed in its own session so a
    send's transaction never holds it."""
    rendition = version.renditions.get(EMAIL_RENDITION)
    if rendition is None or rendition["content_type"] not in SERVED_TYPES:
        return None
    assert asset.id is not None
    engine = session.get_bind()
    with Session(engine, expire_on_commit=False) as own:
        found = _publication(own, asset.id, version.number)
        if found is not None and found.unpublished_at is None:
            return found
        if found is None:
            found = AssetPublication(
                token=secrets.token_urlsafe(24),
                asset_id=asset.id,
                brand_id=asset.brand_id,
                version=version.number,
                rendition=EMAIL_RENDITION,
                storage_key=str(rendition["key"]),
                content_type=str(rendition["content_type"]),
                width=int(rendition["width"]),
                height=int(rendition["height"]),
            )
        else:  # unpublished before (an expired licence renewed): the same token again
            found.unpublished_at = None
            found.unpublished_reason = None
            found.published_at = utcnow()
        if _s3_public(settings):
            ext = "png" if found.content_type == "image/png" else "jpg"
            found.public_key = f"{PUBLIC_PREFIX}{found.token}.{ext}"
            store.put(found.public_key, store.get(found.storage_key), found.content_type)
        own.add(found)
        try:
            own.commit()
        except IntegrityError:  # another send published it first
            own.rollback()
            if found.public_key is not None:
                store.delete(found.public_key)
            winner = _publication(own, asset.id, version.number)
            assert winner is not None
            return winner
        return found


def _publication(session: Session, asset_id: int, version: int) -> AssetPublication | None:
    return session.exec(
        select(AssetPublication).where(
            AssetPublication.asset_id == asset_id,
            AssetPublication.version == version,
            AssetPublication.rendition == EMAIL_RENDITION,
        )
    ).first()


def image_refs(
    session: Session,
    settings: Settings,
    store: BlobStore,
    content: TemplateContent,
    resolved: Mapping[str, Any],
    *,
    brand_id: int,
    publish_images: bool,
    today: date | None = None,
) -> dict[str, ImageRef]:
    """asset id -> ImageRef for the asset slots of `content` as resolved.

    publish_images=True is for sends of approved partner campaigns only: URLs are the stable
    public ones (published on first use), and an asset that is not approved or not licensed
    today gets no URL. False is for previews and proofs: short-lived signed URLs, nothing is
    published. An asset without an email rendition (SVG, PDF) gets no URL either; `.tag` is
    then empty."""
    uids = set(asset_uids(content, resolved).values())
    day = today or utcnow().date()
    refs: dict[str, ImageRef] = {}
    for asset, version in _assets(session, brand_id, uids):
        rendition = version.renditions.get(EMAIL_RENDITION)
        url = _url(session, settings, store, asset, version, publish_images=publish_images, day=day)
        width, height = (
            display_size(int(rendition["width"]), int(rendition["height"]))
            if rendition is not None
            else display_size(version.width or 1, version.height or 1)
        )
        refs[asset.uid] = ImageRef(
            asset.uid,
            url=url,
            alt=_alt(asset),
            width=width,
            height=height,
            content_type=str(rendition["content_type"]) if rendition else version.content_type,
        )
    return refs


def _url(
    session: Session,
    settings: Settings,
    store: BlobStore,
    asset: Asset,
    version: AssetVersion,
    *,
    publish_images: bool,
    day: date,
) -> str:
    """The email rendition's URL: public (published on first use) for sends, signed for
    previews; "" when there is nothing recipients may be shown."""
    rendition = version.renditions.get(EMAIL_RENDITION)
    if rendition is None:
        return ""
    if not publish_images:
        return store.signed_url(str(rendition["key"]), expires_in=settings.asset_url_ttl)
    found = publish(session, settings, store, asset, version) if usable_today(asset, day) else None
    return public_url(settings, found) if found is not None else ""


def url_of(
    session: Session, settings: Settings, brand_id: int, uid: str, *, publish_images: bool
) -> str | None:
    """One asset's email image URL by uid (a brand block's logo), on the same terms as slots."""
    for asset, version in _assets(session, brand_id, {uid}):
        day = utcnow().date()
        url = _url(
            session,
            settings,
            store_for(settings),
            asset,
            version,
            publish_images=publish_images,
            day=day,
        )
        return url or None
    return None


_STORES: dict[tuple[Any, ...], BlobStore] = {}


def store_for(settings: Settings) -> BlobStore:
    """The deployment's blob store, built once per process and configuration (an S3 client is
    expensive to build; sends load their context once per batch)."""
    from storage.factory import make_blob_store

    key = (
        settings.asset_store,
        settings.s3_bucket,
        str(settings.data_dir),
        settings.aws_endpoint_url,
        settings.public_base_url,
    )
    if key not in _STORES:
        _STORES[key] = make_blob_store(settings)
    return _STORES[key]


def for_send(
    session: Session,
    settings: Settings,
    content: TemplateContent,
    resolved: Mapping[str, Any],
    *,
    brand_id: int,
    state: str,
) -> dict[str, Any]:
    """The send path's one call (services.delivery): `resolved` with asset slots as ImageRefs.
    Published URLs only for a partner campaign in `state` approved or later; earlier (a test
    send before approval) the URLs are signed and expire after ASSET_URL_TTL."""
    refs = image_refs(
        session,
        settings,
        store_for(settings),
        content,
        resolved,
        brand_id=brand_id,
        publish_images=state in PUBLISHING_STATES,
    )
    return with_images(content, resolved, refs)


@dataclass(frozen=True)
class PrintImages:
    """What a print render needs: refs whose URLs only render_pdf's fetcher resolves, and the
    originals' bytes by those URLs."""

    refs: dict[str, ImageRef]
    files: dict[str, tuple[bytes, str]]


def print_images(
    session: Session,
    store: BlobStore,
    content: TemplateContent,
    resolved: Mapping[str, Any],
    *,
    brand_id: int,
) -> PrintImages:
    """Full-resolution originals for a print PDF (raster types; an SVG original is embedded as
    the image WeasyPrint draws, with no script and no network: its fetcher allows nothing
    else). Width and height are the original's pixels; print CSS sizes the image."""
    uids = set(asset_uids(content, resolved).values())
    refs: dict[str, ImageRef] = {}
    files: dict[str, tuple[bytes, str]] = {}
    for asset, version in _assets(session, brand_id, uids):
        url = f"{PRINT_SCHEME}{asset.uid}"
        try:
            files[url] = (store.get(version.storage_key), version.content_type)
        except BlobNotFound:
            url = ""
        refs[asset.uid] = ImageRef(
            asset.uid,
            url=url,
            alt=_alt(asset),
            width=version.width or 1,
            height=version.height or 1,
            content_type=version.content_type,
        )
    return PrintImages(refs, files)


def print_image_url(
    session: Session, store: BlobStore, brand_id: int, files: dict[str, tuple[bytes, str]]
) -> Callable[[str], str | None]:
    """A brand block's logo in a print PDF: its full-resolution original, added to the files
    the PDF's fetcher may read (the fetcher reads nothing else)."""

    def image_url(uid: str) -> str | None:
        for asset, version in _assets(session, brand_id, {uid}):
            url = f"{PRINT_SCHEME}{asset.uid}"
            if url not in files:
                try:
                    files[url] = (store.get(version.storage_key), version.content_type)
                except BlobNotFound:
                    return None
            return url
        return None

    return image_url


def unpublish_asset(session: Session, store: BlobStore, asset: Asset, reason: str) -> int:
    """Stop serving every rendition of the asset (archived, licence expired); returns how many
    publications ended. Public S3 copies are deleted; rows stay, so tokens are never reused.
    The caller commits."""
    rows = session.exec(
        select(AssetPublication).where(
            AssetPublication.asset_id == asset.id,
            col(AssetPublication.unpublished_at).is_(None),
        )
    ).all()
    now = utcnow()
    for row in rows:
        if row.public_key is not None:
            store.delete(row.public_key)
        row.unpublished_at = now
        row.unpublished_reason = reason[:200]
        session.add(row)
    return len(rows)


def unpublish_expired(session: Session, store: BlobStore, today: date) -> int:
    """Unpublish the images of every asset whose licence ended before `today` (the public
    route refuses them already; this removes S3 public copies, which S3 serves by itself).
    Meant for a daily run (`python -m scripts.unpublish_expired`); the caller commits."""
    live = select(AssetPublication.asset_id).where(col(AssetPublication.unpublished_at).is_(None))
    assets = session.exec(
        select(Asset).where(
            col(Asset.licence_expires_on) < today,
            col(Asset.id).in_(live),
        )
    ).all()
    return sum(unpublish_asset(session, store, a, "licence expired") for a in assets)


@dataclass(frozen=True)
class Served:
    data: bytes
    content_type: str
    etag: str


class Gone(Exception):
    """The image was published once and is not any more (archived, licence expired)."""


def serve(session: Session, store: BlobStore, token: str, today: date) -> Served | None:
    """The bytes behind a public token; None for an unknown token, Gone when unpublished, the
    asset archived or its licence expired (checked here too, not only when unpublishing)."""
    row = session.exec(select(AssetPublication).where(AssetPublication.token == token)).first()
    if row is None:
        return None
    asset = session.get(Asset, row.asset_id)
    if asset is None:
        return None
    expires = asset.licence_expires_on
    if (
        row.unpublished_at is not None
        or asset.state == AssetState.archived
        or (expires is not None and expires < today)
        or row.content_type not in SERVED_TYPES
    ):
        raise Gone(token)
    # What a token names never changes (a new file is a new version, a new token): the token
    # itself is the entity tag.
    return Served(store.get(row.storage_key), row.content_type, f'"{row.token}"')


__all__ = [
    "EMAIL_RENDITION",
    "PRINT_SCHEME",
    "Gone",
    "PrintImages",
    "Served",
    "asset_uids",
    "for_send",
    "image_refs",
    "print_images",
    "public_url",
    "publish",
    "serve",
    "store_for",
    "unpublish_asset",
    "unpublish_expired",
    "usable_today",
    "with_images",
]
