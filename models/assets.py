"""The asset library: brand assets for every partner, local assets for one partner.

An asset's public id (`uid`, "ast_...") is what template slots hold. Each upload of the same asset
is a new AssetVersion; older versions stay stored for campaigns that used them.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import utcnow


class AssetState(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    archived = "archived"


class Asset(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=40, unique=True, index=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    # None: a brand asset every partner of the brand may use; else the partner's local asset.
    partner_id: int | None = Field(default=None, foreign_key="partner.id", index=True)
    region_id: int | None = Field(default=None, foreign_key="region.id")
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    # What the image shows, for people who cannot see it: required before use in an email.
    alt_text: str = Field(default="", max_length=300)
    # ",hero,open-day,": one portable LIKE '%,tag,%' per tag filter, on SQLite and PostgreSQL.
    tags_index: str = Field(default=",", max_length=2000)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    allowed_region_ids: list[int] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    licence_expires_on: date | None = Field(default=None)
    state: str = Field(default=AssetState.pending.value, sa_type=String(16), index=True)
    current_version: int = Field(default=1, ge=1)
    content_type: str = Field(max_length=100)
    size: int = Field(ge=0)
    width: int | None = Field(default=None)
    height: int | None = Field(default=None)
    checksum: str = Field(max_length=80)
    uploaded_by: int = Field(foreign_key="user.id")
    decided_by: int | None = Field(default=None, foreign_key="user.id")
    decision_comment: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AssetVersion(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("asset_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int = Field(foreign_key="asset.id", index=True)
    number: int = Field(ge=1)
    filename: str = Field(max_length=200)
    storage_key: str = Field(max_length=400)
    content_type: str = Field(max_length=100)
    size: int = Field(ge=0)
    width: int | None = Field(default=None)
    height: int | None = Field(default=None)
    checksum: str = Field(max_length=80)
    # {"thumb": {"key": ..., "content_type": ..., "width": ..., "height": ...}, "web": {...}}
    renditions: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    uploaded_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class AssetPublication(SQLModel, table=True):
    """One rendition of one asset version at a stable public URL, for emails already sent.

    The token is the only name the public route knows; it never expires by itself. A row is
    made when an approved campaign's send first uses the rendition and is reused by every later
    send; archiving the asset or an expired licence sets `unpublished_at` (rows are kept so the
    token is never handed out again)."""

    __table_args__ = (UniqueConstraint("asset_id", "version", "rendition"),)

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=64, unique=True, index=True)
    asset_id: int = Field(foreign_key="asset.id", index=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    version: int = Field(ge=1)
    rendition: str = Field(max_length=20)
    storage_key: str = Field(max_length=400)
    # Where S3 serves the copy (ASSET_PUBLIC_BASE_URL); None: the app's /i/{token} route.
    public_key: str | None = Field(default=None, max_length=400)
    content_type: str = Field(max_length=100)
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    published_at: datetime = Field(default_factory=utcnow)
    unpublished_at: datetime | None = Field(default=None)
    unpublished_reason: str | None = Field(default=None, max_length=200)
