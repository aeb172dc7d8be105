"""The organisation: brands (tenants), regions, partners, users, memberships, API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, String, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from models.base import utcnow


class Brand(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    palette: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    fonts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    restricted_words: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    restricted_patterns: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    # Off by default: opens and clicks are personal data that consent law may not cover.
    open_tracking: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    click_tracking: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # HQ's people see times in it (partners see their partner's); an IANA zone name.
    timezone: str = Field(default="UTC", max_length=64, sa_column_kwargs={"server_default": "UTC"})
    created_at: datetime = Field(default_factory=utcnow)


class Region(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("brand_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class Partner(SQLModel, table=True):
    """A local unit; its profile fields are data templates use, so partners never retype them."""

    __table_args__ = (UniqueConstraint("brand_id", "slug"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    region_id: int = Field(foreign_key="region.id", index=True)
    slug: str = Field(max_length=64)
    display_name: str = Field(max_length=200)
    street: str = Field(default="", max_length=200)
    postal_code: str = Field(default="", max_length=20)
    city: str = Field(default="", max_length=100)
    country: str = Field(default="", max_length=2)
    phone: str = Field(default="", max_length=40)
    email: str = Field(default="", max_length=254)
    website: str = Field(default="", max_length=300)
    opening_hours: str = Field(default="", max_length=500)
    locale: str = Field(default="en", max_length=10)
    timezone: str = Field(default="UTC", max_length=64)
    # The alphanumeric SMS sender id (up to 11 characters) where the partner's country allows
    # one; empty: the brand's number sends (mail.sms).
    sms_sender_id: str = Field(default="", max_length=11, sa_column_kwargs={"server_default": ""})
    social: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    logo_asset_id: int | None = Field(default=None)
    # The "trust center" switch: only the partner's GM turns it on; then brand roles with
    # contact permissions see the partner's contact rows, not just counts.
    contacts_shared_with_brand: bool = Field(
        default=False, sa_column_kwargs={"server_default": false()}
    )
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    """A person of one brand; what they may do comes from their memberships."""

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    email: str = Field(max_length=254, unique=True, index=True)
    full_name: str = Field(default="", max_length=200)
    password_hash: str | None = Field(default=None, max_length=255)
    is_active: bool = Field(default=True)
    failed_logins: int = Field(default=0)
    locked_until: datetime | None = Field(default=None)
    # Carried by every access token and portal session; signing out and changing the password
    # raise it, which ends all of them at once (services.accounts.end_sessions).
    session_generation: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Empty: derived (services.preferences): the partner's locale and zone for partner users,
    # the browser's language and the brand's zone for HQ.
    locale: str = Field(default="", max_length=10, sa_column_kwargs={"server_default": ""})
    timezone: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    created_at: datetime = Field(default_factory=utcnow)


class Membership(SQLModel, table=True):
    """A role held at brand, region or partner scope."""

    __table_args__ = (UniqueConstraint("user_id", "role", "scope_type", "region_id", "partner_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    role: str = Field(sa_type=String(32))
    scope_type: str = Field(sa_type=String(16))
    region_id: int | None = Field(default=None, foreign_key="region.id", index=True)
    partner_id: int | None = Field(default=None, foreign_key="partner.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)


class ApiToken(SQLModel, table=True):
    """An integration token: only its SHA-256 is stored; the secret is shown once."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    name: str = Field(max_length=200)
    prefix: str = Field(max_length=16, unique=True, index=True)
    token_hash: str = Field(max_length=64)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = Field(default=None)
    revoked_at: datetime | None = Field(default=None)
    last_used_at: datetime | None = Field(default=None)


def as_profile(partner: Partner) -> dict[str, Any]:
    """The partner fields templates may use (partner_field slots)."""
    return {
        "name": partner.display_name,
        "street": partner.street,
        "postal_code": partner.postal_code,
        "city": partner.city,
        "country": partner.country,
        "address": ", ".join(
            p for p in (partner.street, f"{partner.postal_code} {partner.city}".strip()) if p
        ),
        "phone": partner.phone,
        "email": partner.email,
        "website": partner.website,
        "opening_hours": partner.opening_hours,
        "social": dict(partner.social),
    }
