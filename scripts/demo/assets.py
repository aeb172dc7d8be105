"""Demo images for the asset library, drawn here (no downloads): a few Northwind brand images
with tags, one whose licence has expired, and one Amsterdam upload waiting for review."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from functools import cache

from PIL import Image, ImageDraw
from sqlmodel import Session, select

from media.inspect import Inspected, inspect_upload
from media.thumbnails import Rendition, renditions
from models.assets import Asset, AssetState
from models.org import Brand, Partner, User
from services.assets import NewAsset, blobs_removed_on_error, store_new_asset
from storage.base import BlobStore

EXPIRED_ON = date(2025, 12, 31)


@dataclass(frozen=True)
class DemoAsset:
    uid: str
    title: str
    tags: tuple[str, ...]
    colours: tuple[str, str]
    size: tuple[int, int]
    expires_on: date | None = None
    partner_slug: str | None = None  # a partner's local upload, pending review
    alt_text: str = ""


NORTHWIND_ASSETS: tuple[DemoAsset, ...] = (
    DemoAsset(
        "ast_openday01",
        "Open day hero",
        ("hero", "open-day"),
        ("#0B3D91", "#F2A900"),
        (1200, 630),
        alt_text="Northwind Fitness open day banner in blue and gold",
    ),
    DemoAsset(
        "ast_summer01",
        "Summer outdoor class",
        ("hero", "summer"),
        ("#F2A900", "#0B3D91"),
        (1200, 630),
        alt_text="A summer fitness class outdoors",
    ),
    DemoAsset(
        "ast_logo0001",
        "Northwind logo",
        ("logo",),
        ("#0B3D91", "#FFFFFF"),
        (400, 400),
        alt_text="Northwind Fitness",
    ),
    DemoAsset(
        "ast_team0001",
        "Trainers team photo",
        ("team", "people"),
        ("#1A1A1A", "#F2A900"),
        (1600, 1067),
        alt_text="The Northwind trainers team",
    ),
    DemoAsset(
        "ast_winter01",
        "Winter campaign hero (licence expired)",
        ("hero", "open-day", "winter"),
        ("#DDEEFF", "#0B3D91"),
        (1200, 630),
        expires_on=EXPIRED_ON,
        alt_text="Winter campaign banner",
    ),
    DemoAsset(
        "ast_amsclub01",
        "Amsterdam club front",
        ("club", "amsterdam"),
        ("#2E7D32", "#FFFFFF"),
        (1024, 768),
        partner_slug="amsterdam",
        alt_text="The front of the Amsterdam club",
    ),
)


@cache
def _prepared(spec: DemoAsset) -> tuple[Inspected, dict[str, Rendition]]:
    """Drawn, inspected and scaled once per process: tests seed the library for every test."""
    data = demo_png(spec.title, spec.colours, spec.size)
    found = inspect_upload(data, f"{spec.uid}.png", max_bytes=len(data))
    return found, renditions(found.data, found.content_type)


@cache
def demo_png(title: str, colours: tuple[str, str], size: tuple[int, int]) -> bytes:
    """A two-tone banner with its title: recognisable in the gallery, a few KB as PNG."""
    background, accent = colours
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.rectangle((0, int(height * 0.72), width, height), fill=accent)
    draw.ellipse(
        (int(width * 0.7), 40, int(width * 0.7) + height // 3, 40 + height // 3), fill=accent
    )
    draw.text((40, 40), title, fill=accent)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def seed_demo_assets(session: Session, store: BlobStore) -> int:
    """Adds the demo assets that are missing; returns how many were added (0 on a re-run)."""
    brand = session.exec(select(Brand).where(Brand.slug == "northwind")).first()
    if brand is None or brand.id is None:
        return 0
    marketer = session.exec(select(User).where(User.email == "marketing@northwind.example")).one()
    assert marketer.id is not None
    added = 0
    for spec in NORTHWIND_ASSETS:
        existing = session.exec(select(Asset).where(Asset.uid == spec.uid)).first()
        if existing is not None:
            if spec.alt_text and not existing.alt_text:  # seeded before assets had alt text
                existing.alt_text = spec.alt_text
                session.add(existing)
            continue
        partner = None
        uploader = marketer.id
        if spec.partner_slug:
            partner = session.exec(
                select(Partner).where(
                    Partner.brand_id == brand.id, Partner.slug == spec.partner_slug
                )
            ).one()
            editor = session.exec(
                select(User).where(User.email == f"editor.{spec.partner_slug}@northwind.example")
            ).first()
            uploader = editor.id if editor and editor.id else marketer.id
        found, rendered = _prepared(spec)
        with blobs_removed_on_error(store) as written:
            store_new_asset(
                session,
                store,
                written,
                NewAsset(
                    brand_id=brand.id,
                    partner=partner,
                    uploader_id=uploader,
                    title=spec.title,
                    tags=list(spec.tags),
                    alt_text=spec.alt_text,
                    licence_expires_on=spec.expires_on,
                    state=AssetState.pending if partner else AssetState.approved,
                    uid=spec.uid,
                ),
                found,
                rendered,
            )
            session.flush()
        added += 1
    return added
