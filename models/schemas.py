"""API shapes for the organisation resources (request bodies and responses)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.roles import Role, ScopeType
from models.base import ZonedDatetime
from models.locales import normalise_email

T = TypeVar("T")
LOCALES = ("en", "de", "nl", "fr", "it", "es")
# Alphanumeric SMS sender ids: what carriers accept (a letter keeps it from reading as a number).
SMS_SENDER_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{3,11}$")

Name = Annotated[str, Field(min_length=1, max_length=200)]
Slug = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]


def _email(value: str) -> str:
    """The contacts' address rule, then all lower case: people sign in with it."""
    try:
        return normalise_email(value).lower()
    except ValueError as err:
        raise ValueError(f"must be an email address like name@example.com ({err})") from err


class Page(BaseModel, Generic[T]):
    """One page of a list. Walk a list by sending `next_cursor` back as `cursor` until it is
    null."""

    items: list[T]
    next_cursor: str | None = Field(
        None, description="`cursor` for the next page; null on the last page"
    )
    total: int | None = Field(
        None,
        description="rows matching the filters, counted on a first page (no `cursor`) and only "
        "up to 10,000: null on later pages and when more match",
    )
    limit: int
    offset: int = Field(0, description="the deprecated `offset` as sent (0 when paging by cursor)")


class RegionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name


class RegionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name


class RegionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    name: str
    created_at: datetime


class PartnerProfile(BaseModel):
    """Fields a partner's GM may edit; templates read them (partner_field slots)."""

    model_config = ConfigDict(extra="forbid")
    display_name: Name | None = None
    street: str | None = Field(None, max_length=200)
    postal_code: str | None = Field(None, max_length=20)
    city: str | None = Field(None, max_length=100)
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    phone: str | None = Field(None, max_length=40, pattern=r"^[0-9+() ./-]*$")
    email: str | None = Field(None, max_length=254)
    website: str | None = Field(None, max_length=300, pattern=r"^(https?://\S+)?$")
    opening_hours: str | None = Field(None, max_length=500)
    locale: str | None = None
    timezone: str | None = Field(None, max_length=64)
    social: dict[str, str] | None = None
    sms_sender_id: str | None = Field(
        None,
        description="the name SMS come from where the country allows one: 3-11 letters, "
        "digits or spaces with at least one letter; empty for the brand's number",
    )

    @field_validator("sms_sender_id")
    @classmethod
    def _sender_id_ok(cls, v: str | None) -> str | None:
        if v and not SMS_SENDER_ID.fullmatch(v):
            raise ValueError(
                "must be 3 to 11 letters, digits or spaces with at least one letter "
                "(what phones show as the sender)"
            )
        return v

    @field_validator("email")
    @classmethod
    def _email_ok(cls, v: str | None) -> str | None:
        return _email(v) if v else v

    @field_validator("locale")
    @classmethod
    def _locale_ok(cls, v: str | None) -> str | None:
        if v is not None and v not in LOCALES:
            raise ValueError(f"must be one of {', '.join(LOCALES)}")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz_ok(cls, v: str | None) -> str | None:
        if v is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError) as err:
                raise ValueError("must be an IANA time zone like Europe/Berlin") from err
        return v


class PartnerCreate(PartnerProfile):
    region_id: int
    slug: Slug
    display_name: Name


class PartnerUpdate(PartnerProfile):
    """Brand admins may also move a partner to another region."""

    region_id: int | None = None


class PartnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    region_id: int
    slug: str
    display_name: str
    street: str
    postal_code: str
    city: str
    country: str
    phone: str
    email: str
    website: str
    opening_hours: str
    locale: str
    timezone: str
    social: dict[str, str]
    sms_sender_id: str
    logo_asset_id: int | None
    created_at: datetime
    updated_at: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str
    full_name: str = Field("", max_length=200)
    password: str | None = Field(None, min_length=12, max_length=200)

    @field_validator("email")
    @classmethod
    def _email_ok(cls, v: str) -> str:
        return _email(v)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    full_name: str | None = Field(None, max_length=200)
    password: str | None = Field(None, min_length=12, max_length=200)
    is_active: bool | None = None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    email: str
    full_name: str
    is_active: bool
    created_at: datetime


class MembershipCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: int
    role: Role
    scope_type: ScopeType
    region_id: int | None = None
    partner_id: int | None = None


class MembershipRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    user_id: int
    brand_id: int
    role: Role
    scope_type: ScopeType
    region_id: int | None
    partner_id: int | None
    created_at: datetime


class ApiTokenCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"user_id": 2, "name": "CRM integration", "expires_at": "2031-01-01T00:00:00Z"}
            ]
        },
    )
    user_id: int
    name: Name
    expires_at: ZonedDatetime | None = None


class ApiTokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    user_id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiTokenCreated(ApiTokenRead):
    token: str = Field(description="The secret; shown only in this response")


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int


class PasswordChange(BaseModel):
    """The caller's own password; the rules for the new one are services.password_rules."""

    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=1000)
    new_password: str = Field(min_length=1, max_length=1000)


class MeRead(BaseModel):
    user: UserRead
    memberships: list[MembershipRead]
    permissions: dict[str, list[str]]


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    seq: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    region_id: int | None
    partner_id: int | None
    before: dict[str, object] | None
    after: dict[str, object] | None
    comment: str | None
    request_id: str | None
    workflow_id: str | None
    run_id: str | None
    hash: str
    mac_version: int = Field(
        description="0: plain SHA-256 link (events from before the chain was keyed), "
        "1: HMAC-SHA256 with the audit key"
    )
    key_id: str | None = Field(description="Id of the audit key of a keyed link")


class AuditCheckpointRead(BaseModel):
    """A signed checkpoint of a brand's chain head, stored outside the database."""

    brand_id: int
    seq: int = Field(description="The chain's head when the checkpoint was written")
    hash: str = Field(description="The link of event `seq`")
    at: datetime = Field(description="When the checkpoint was written")
    legacy_until: int = Field(
        description="Events up to this seq may carry plain SHA-256 links; later ones must be keyed"
    )
    key_id: str = Field(description="Id of the audit key that signed it")
    location: str = Field(description="Where it is stored: s3://bucket/key or local:path")
    lock: str = Field(
        description="What protects it: an S3 Object Lock mode, or why nothing does "
        "(a bucket without Object Lock, a local file)"
    )
    retain_until: datetime | None = Field(description="End of the Object Lock retention")


class RefusedCheckpointRead(BaseModel):
    location: str
    reason: str = Field(description="Why it was not trusted (forged or altered signature, ...)")


class AuditVerifyRead(BaseModel):
    """The verification of the caller's brand chain. The first five fields are the original
    answer; the others say what was checked and against which checkpoint."""

    ok: bool = Field(description="True only when the chain and every check below hold")
    checked: int = Field(description="Events that verified before the first problem")
    first_broken_seq: int | None = Field(description="Position of the first problem")
    first_broken_id: int | None = Field(description="Row id at that position, if a row is there")
    reason: str | None = Field(description="The first problem, in words")
    events: int = Field(description="Events in the chain")
    keyed: int = Field(description="Checked events with HMAC-SHA256 links")
    legacy: int = Field(description="Checked events with plain SHA-256 links (before keying)")
    checkpoint: AuditCheckpointRead | None = Field(
        description="The newest checkpoint with a valid signature, which the chain was "
        "compared with: events up to its seq are anchored outside the database"
    )
    unanchored: int = Field(
        description="Events after that checkpoint, protected by the audit key alone"
    )
    refused_checkpoints: list[RefusedCheckpointRead] = Field(
        description="Newer checkpoints whose signature or content did not verify"
    )
