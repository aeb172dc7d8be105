"""A partner's customers (contacts), the brand's suppression list, saved segments and the
anonymous count of erased contacts.

Contacts are the partner's data: HQ sees counts, rows only where the partner shares them
(`Partner.contacts_shared_with_brand`). Emails are stored normalised (trimmed, domain in lower
case), so uniqueness per partner and suppression per brand compare like with like.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import utcnow


class ConsentStatus(StrEnum):
    granted = "granted"
    denied = "denied"
    unknown = "unknown"


class Channel(StrEnum):
    """How a contact hears from the partner: their preference picks the variant at send."""

    email = "email"
    sms = "sms"


class SuppressionReason(StrEnum):
    unsubscribed = "unsubscribed"
    bounced = "bounced"
    complained = "complained"
    manual = "manual"
    stop = "stop"  # SMS: the recipient replied STOP (or the provider's opt-out list has them)
    invalid = "invalid"  # SMS: the provider says the number cannot receive messages


class Contact(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("partner_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    email: str = Field(max_length=254, index=True)
    name: str = Field(default="", max_length=200)
    locale: str = Field(default="", max_length=10)
    consent_status: str = Field(default=ConsentStatus.unknown.value, sa_type=String(16))
    consent_source: str = Field(default="", max_length=200)
    consent_at: datetime | None = Field(default=None)
    # SMS: the number as E.164 (models.phones.normalise_phone), its own consent, and the
    # channel the contact prefers; email stays the default for everyone who said nothing.
    phone: str | None = Field(default=None, max_length=16, index=True)
    sms_consent_status: str = Field(
        default=ConsentStatus.unknown.value,
        sa_type=String(16),
        sa_column_kwargs={"server_default": ConsentStatus.unknown.value},
    )
    sms_consent_source: str = Field(
        default="", max_length=200, sa_column_kwargs={"server_default": ""}
    )
    sms_consent_at: datetime | None = Field(default=None)
    channel: str = Field(
        default=Channel.email.value,
        sa_type=String(8),
        sa_column_kwargs={"server_default": Channel.email.value},
    )
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # "<import run>:<row>" of the last import that touched the row: finds duplicates within one
    # file without holding every address of a large file in memory.
    import_mark: str | None = Field(default=None, max_length=48)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Suppression(SQLModel, table=True):
    """An address the brand never sends to again, whichever partner's list holds it.

    `partner_id` names the partner whose contact the entry came from (an unsubscribe link, a
    bounce or complaint of that partner's send): the address is that partner's data, shown
    only under core.policy.may_see_contact_data. None for entries HQ added by hand. No foreign
    key: the entry outlives the partner (and then stays withheld)."""

    __table_args__ = (UniqueConstraint("brand_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    partner_id: int | None = Field(default=None, index=True)
    email: str = Field(max_length=254)
    reason: str = Field(sa_type=String(16))
    source: str = Field(default="", max_length=200)
    detail: str = Field(default="", max_length=1000)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class PhoneSuppression(SQLModel, table=True):
    """A number the brand never texts again (a STOP reply, the provider's opt-out list, a
    number the provider called invalid, HQ by hand): the SMS counterpart of Suppression,
    with the same rules for who may see it. `phone` is E.164."""

    __table_args__ = (UniqueConstraint("brand_id", "phone"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    partner_id: int | None = Field(default=None, index=True)
    phone: str = Field(max_length=16)
    reason: str = Field(sa_type=String(16))
    source: str = Field(default="", max_length=200)
    detail: str = Field(default="", max_length=1000)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class Segment(SQLModel, table=True):
    """A saved audience: a filter over the partner's contacts (see models.contact_schemas)."""

    __table_args__ = (UniqueConstraint("partner_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    name: str = Field(max_length=200)
    filter: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ErasureCount(SQLModel, table=True):
    """How many contacts a partner has erased: a number, nothing about who they were."""

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", unique=True)
    count: int = Field(default=0, ge=0)
    updated_at: datetime = Field(default_factory=utcnow)
