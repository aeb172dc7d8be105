"""What the catalogue API takes and answers. A budget hint goes in as a decimal string
("250.00") with its currency and comes out both as integer minor units and as that text."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from approvals.builtin import BuiltinPolicy
from domain.catalogue import CatalogueState
from models.base import ZonedDatetime
from models.campaign_schemas import PolicyChoice, clean_name

Id = Annotated[int, Field(ge=1, le=2**53)]
Days = Annotated[int, Field(ge=1, le=365)]
Defaults = Annotated[dict[str, Any], Field(max_length=100)]


def _policy(value: PolicyChoice) -> PolicyChoice:
    """A catalogue campaign is personalised by the partner and approved: "none" would send
    it unreviewed, so it is not offered here."""
    if value == BuiltinPolicy.none:
        raise ValueError(
            "a catalogue campaign needs an approval: use gm, gm_then_hq or a policy id"
        )
    return value


def check_days(personalise_days: int | None, send_within_days: int) -> None:
    if personalise_days is not None and send_within_days <= personalise_days:
        raise ValueError("must be more than personalise_days (sending follows personalising)")


class CatalogueItemCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Open day",
                    "description": "Invite your members' friends for a free day at the club.",
                    "template_version_id": 1,
                    "personalise_days": 7,
                    "send_within_days": 14,
                    "approval_policy": "gm",
                    "budget_hint": "250.00",
                    "budget_currency": "EUR",
                    "regions": [],
                }
            ]
        },
    )

    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    template_version_id: Id
    personalise_days: Days = 7
    send_within_days: Days = 14
    approval_policy: PolicyChoice = BuiltinPolicy.gm
    budget_hint: str | None = Field(
        None, min_length=1, max_length=32, description="a guide for partners, e.g. 250.00"
    )
    budget_currency: str | None = Field(None, min_length=3, max_length=3, examples=["EUR"])
    regions: list[Id] = Field(
        default_factory=list, max_length=1000, description="empty: every partner may order it"
    )
    defaults: Defaults = Field(default_factory=dict)

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        return clean_name(v)

    @field_validator("approval_policy")
    @classmethod
    def _approval(cls, v: PolicyChoice) -> PolicyChoice:
        return _policy(v)

    @field_validator("send_within_days")
    @classmethod
    def _window(cls, v: int, info: ValidationInfo) -> int:
        check_days(info.data.get("personalise_days"), v)
        return v


class CatalogueItemUpdate(BaseModel):
    """Only the fields sent change; orders already made keep their campaign as it was."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"title": "Open day (spring)"}]}
    )

    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    template_version_id: Id | None = None
    personalise_days: Days | None = None
    send_within_days: Days | None = None
    approval_policy: PolicyChoice | None = None
    budget_hint: str | None = Field(None, min_length=1, max_length=32)
    budget_currency: str | None = Field(None, min_length=3, max_length=3)
    regions: list[Id] | None = Field(None, max_length=1000)
    defaults: Defaults | None = None

    @field_validator("title")
    @classmethod
    def _title(cls, v: str | None) -> str | None:
        return None if v is None else clean_name(v)

    @field_validator("approval_policy")
    @classmethod
    def _approval(cls, v: PolicyChoice | None) -> PolicyChoice | None:
        return None if v is None else _policy(v)


class CatalogueItemRead(BaseModel):
    id: int
    brand_id: int
    title: str
    description: str
    template_version_id: int
    personalise_days: int
    send_within_days: int
    approval_policy: str
    approval_policy_id: int | None
    budget_hint_minor: int | None
    budget_hint: str | None = Field(description="budget_hint_minor as a decimal amount")
    budget_currency: str | None
    regions: list[int]
    defaults: dict[str, Any]
    state: CatalogueState
    may_order: bool = Field(description="whether the caller may order it now")
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CatalogueOrderCreate(BaseModel):
    """Everything is optional: the window defaults to the item's suggestion from now, the
    partner to the caller's own (a caller acting for several partners names one)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{}, {"personalise_until": "2030-05-10T17:00:00+02:00"}]},
    )

    partner_id: Id | None = None
    personalise_until: ZonedDatetime | None = None
    send_by: ZonedDatetime | None = None


class CatalogueOrderRead(BaseModel):
    id: int
    item_id: int
    item_title: str
    partner_id: int
    partner_name: str
    region_id: int
    campaign_id: int
    partner_campaign_id: int | None
    state: str = Field(description="the partner campaign's state (the campaign's before launch)")
    personalise_until: datetime
    send_by: datetime
    ordered_by: int
    created_at: datetime
    form_url: str | None = Field(description="the portal page where the partner personalises it")
