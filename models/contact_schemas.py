"""API shapes for contacts, segments and the suppression list, and the segment filter language.

The segment filter is data validated here, never code: tag sets, attribute equals / in, locale
in. An unknown operator is refused by name (`extra="forbid"`), so a typo cannot silently widen
an audience. Workflows may exchange SegmentFilter (no table module is imported here).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.said import SaidText
from models.asset_schemas import parse_tags
from models.base import ZonedDatetime
from models.locales import normalise_locale

ATTRIBUTE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
Scalar = str | int | float | bool
Consent = Literal["granted", "denied", "unknown"]
ChannelName = Literal["email", "sms"]


def check_attributes(value: dict[str, Any]) -> dict[str, Any]:
    """Flat key -> scalar maps: what a CSV column can carry and a segment can compare."""
    if len(value) > 50:
        raise ValueError("at most 50 attributes")
    for key, item in value.items():
        if not ATTRIBUTE_KEY.fullmatch(key):
            raise ValueError(
                f"attribute name {key!r} must be lower-case letters, digits and _ (at most 40)"
            )
        if item is not None and not isinstance(item, Scalar):
            raise ValueError(f"attribute {key!r} must be text, a number or true/false")
        if isinstance(item, str) and len(item) > 500:
            raise ValueError(f"attribute {key!r} is longer than 500 characters")
    return value


class AttributeCondition(BaseModel):
    """One attribute test: `equals` a value, or `in` a list of values (exactly one of them)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    key: str = Field(pattern=ATTRIBUTE_KEY.pattern)
    equals: Scalar | None = None
    in_: list[Scalar] | None = Field(None, alias="in", min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_operator(self) -> AttributeCondition:
        if (self.equals is None) == (self.in_ is None):
            raise ValueError("give exactly one of equals or in")
        return self

    def matches(self, attributes: dict[str, Any]) -> bool:
        if self.key not in attributes:
            return False
        value = attributes[self.key]
        if self.equals is not None:
            return bool(value == self.equals)
        return value in (self.in_ or [])


class SegmentFilter(BaseModel):
    """All given conditions must hold; an empty filter is every contact of the partner."""

    model_config = ConfigDict(extra="forbid")
    tags_any: list[str] = Field(default_factory=list, max_length=30)
    tags_all: list[str] = Field(default_factory=list, max_length=30)
    locale_in: list[str] = Field(default_factory=list, max_length=30)
    attributes: list[AttributeCondition] = Field(default_factory=list, max_length=20)

    @field_validator("tags_any", "tags_all")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return parse_tags(value)

    @field_validator("locale_in")
    @classmethod
    def _locales(cls, value: list[str]) -> list[str]:
        return [normalise_locale(v) for v in value]

    def matches(self, tags: list[str], locale: str, attributes: dict[str, Any]) -> bool:
        if self.tags_any and not set(self.tags_any) & set(tags):
            return False
        if self.tags_all and not set(self.tags_all) <= set(tags):
            return False
        if (
            self.locale_in
            and locale not in self.locale_in
            and locale.split("-")[0] not in (self.locale_in)
        ):
            return False
        return all(c.matches(attributes) for c in self.attributes)


class ContactFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    locale: str | None = Field(None, max_length=10)
    consent_status: Consent | None = None
    consent_source: str | None = Field(None, max_length=200)
    consent_at: ZonedDatetime | None = None
    tags: list[str] | None = None
    attributes: dict[str, Any] | None = None
    phone: str | None = Field(
        None,
        max_length=40,
        description="mobile number; national numbers are read in the partner's country and "
        'stored as E.164 ("+31612345678"); "" removes it',
    )
    sms_consent_status: Consent | None = Field(None, description="consent to SMS, of its own")
    sms_consent_source: str | None = Field(None, max_length=200)
    channel: ChannelName | None = Field(
        None, description='how the contact hears from the partner; "sms" needs a phone'
    )

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else parse_tags(value)

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else check_attributes(value)


class ContactCreate(ContactFields):
    email: str = Field(max_length=320)


class ContactUpdate(ContactFields):
    email: str | None = Field(None, max_length=320)


class ContactRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    partner_id: int
    email: str
    name: str
    locale: str
    consent_status: str
    consent_source: str
    consent_at: datetime | None
    tags: list[str]
    attributes: dict[str, Any]
    phone: str | None = None
    sms_consent_status: str = "unknown"
    sms_consent_source: str = ""
    sms_consent_at: datetime | None = None
    channel: str = "email"
    suppressed: bool = False
    sms_suppressed: bool = Field(
        False, description="the brand never texts this number (STOP, refused, by hand)"
    )
    created_at: datetime
    updated_at: datetime


class ContactSummary(BaseModel):
    """What HQ may always see of a partner's contacts: numbers."""

    partner_id: int
    total: int
    consent_granted: int
    consent_denied: int
    consent_unknown: int
    suppressed: int
    erased: int
    shared_with_brand: bool


class SharingUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shared: bool


class ImportRow(BaseModel):
    row: int
    email: str
    status: Literal["created", "updated", "unchanged", "rejected"]
    reasons: list[SaidText] = Field(default_factory=list)


class ImportReport(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rows: list[ImportRow] = Field(default_factory=list)
    rows_truncated: bool = False


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    filter: SegmentFilter = Field(default_factory=SegmentFilter)


class SegmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    filter: SegmentFilter | None = None


class SegmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    partner_id: int
    name: str
    filter: dict[str, Any]
    created_by: int | None
    created_at: datetime
    updated_at: datetime


class AudienceBreakdown(BaseModel):
    """matching = eligible + suppressed + no_consent (each contact counted once)."""

    matching: int = 0
    eligible: int = 0
    suppressed: int = 0
    no_consent: int = 0
    # eligible = eligible_email + eligible_sms: the channel each eligible contact gets
    # (SMS only when the template has an SMS variant; services.segments).
    eligible_email: int = 0
    eligible_sms: int = 0


class SuppressionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=320)
    detail: str = Field("", max_length=1000)


class PhoneSuppressionRead(BaseModel):
    """An entry of the brand's phone suppression list (services.sms.suppression)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    phone: str
    reason: str
    source: str
    detail: str
    created_by: int | None
    created_at: datetime
    phone_withheld: bool = Field(
        False,
        description="the entry came from a partner's contact whose data you may not see: "
        "`phone` and `detail` are withheld (the partner does not share its contacts)",
    )


class SuppressionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    reason: str
    source: str
    detail: str
    created_by: int | None
    created_at: datetime
    email_withheld: bool = Field(
        False,
        description="the entry came from a partner's contact whose data you may not see: "
        "`email` and `detail` are withheld (the partner does not share its contacts)",
    )
