"""The campaign catalogue: campaigns HQ publishes for partners to order, and their orders.

An order is a Campaign that targets the ordering partner alone, launched through the same
path as HQ's campaigns; the order row remembers who asked, with which Idempotency-Key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.catalogue import CatalogueState
from models.base import EnumText, utcnow


class CatalogueItem(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    template_version_id: int = Field(foreign_key="templateversion.id")
    # The suggested window, counted from the order: personalise for N days, send within M.
    personalise_days: int = Field(default=7)
    send_within_days: int = Field(default=14)
    # A built-in policy's name (gm, gm_then_hq) or the name of the brand's policy below.
    approval_policy: str = Field(default="gm", max_length=100)
    approval_policy_id: int | None = Field(default=None, foreign_key="approvalpolicy.id")
    # Shown to partners as a guide; never booked against a fund.
    budget_hint_minor: int | None = Field(default=None, sa_type=BigInteger)
    budget_currency: str = Field(default="", max_length=3)
    # Empty: every partner of the brand may order it; else only partners of these regions.
    region_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    defaults: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: CatalogueState = Field(
        default=CatalogueState.draft, sa_type=EnumText(CatalogueState, 16), index=True
    )
    created_by: int = Field(foreign_key="user.id")
    published_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CatalogueOrder(SQLModel, table=True):
    __table_args__ = (
        # The client's Idempotency-Key: a retried or parallel POST finds the order it made.
        UniqueConstraint("partner_id", "request_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    region_id: int = Field(foreign_key="region.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    item_id: int = Field(foreign_key="catalogueitem.id", index=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    request_key: str | None = Field(default=None, max_length=200)
    fingerprint: str = Field(default="", max_length=64)
    ordered_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
