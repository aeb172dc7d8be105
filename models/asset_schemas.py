"""API shapes for the asset library."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.said import said

TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def parse_tags(raw: str | list[str] | None) -> list[str]:
    """ "Hero, Open day" -> ["hero", "open-day"]: one spelling per tag, so tag search matches."""
    parts = raw.split(",") if isinstance(raw, str) else list(raw or [])
    tags: list[str] = []
    for part in parts:
        tag = re.sub(r"[\s_]+", "-", part.strip().lower())
        if not tag:
            continue
        if not TAG.fullmatch(tag):
            raise ValueError(
                said(
                    "tag %(tag)s must be letters, digits and dashes (at most 40 characters)",
                    tag=repr(part.strip()),
                )
            )
        if tag not in tags:
            tags.append(tag)
    if len(tags) > 30:
        raise ValueError(said("at most 30 tags"))
    return tags


class AssetUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    alt_text: str | None = Field(
        None, max_length=300, description="what the image shows (required for use in email)"
    )
    tags: list[str] | str | None = None
    licence_expires_on: date | None = None
    allowed_region_ids: list[int] | None = None

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | str | None) -> list[str] | None:
        return None if value is None else parse_tags(value)


class AssetDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "reject"]
    comment: str | None = Field(None, max_length=2000)


class RenditionRead(BaseModel):
    content_type: str
    width: int
    height: int


class AssetVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    number: int
    filename: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    checksum: str
    renditions: dict[str, RenditionRead]
    uploaded_by: int
    created_at: datetime


class AssetRead(BaseModel):
    id: int
    uid: str = Field(description="the id template asset slots hold")
    brand_id: int
    partner_id: int | None
    title: str
    description: str
    alt_text: str = Field(description="what the image shows; required for use in email")
    tags: list[str]
    content_type: str
    size: int
    width: int | None
    height: int | None
    checksum: str
    licence_expires_on: date | None
    allowed_region_ids: list[int]
    state: str
    current_version: int
    renditions: list[str]
    uploaded_by: int
    decided_by: int | None
    decision_comment: str | None
    created_at: datetime
    updated_at: datetime
