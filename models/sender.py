"""Who a partner's email is sent as: the brand's verified sending domains and each partner's
From name, From address and Reply-To (services.sender validates and resolves them).

Kept in tables of their own beside Brand and Partner: they change rarely, are read once per
send batch, and only brand admins (brand) and the partner's GM (partner) write them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from models.base import utcnow


class BrandSender(SQLModel, table=True):
    """A brand's sending setup: the domains its provider has verified (SPF/DKIM), the local
    part partners send from by default, and for SES the identity and configuration set."""

    brand_id: int = Field(foreign_key="brand.id", primary_key=True)
    domains: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    default_local_part: str = Field(default="news", max_length=64)
    ses_identity_arn: str = Field(default="", max_length=300)
    ses_configuration_set: str = Field(default="", max_length=64)
    updated_at: datetime = Field(default_factory=utcnow)


class PartnerSender(SQLModel, table=True):
    """A partner's sender: empty fields fall back to the brand's (see services.sender)."""

    partner_id: int = Field(foreign_key="partner.id", primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    from_name: str = Field(default="", max_length=100)
    from_address: str = Field(default="", max_length=254)
    reply_to: str = Field(default="", max_length=254)
    updated_at: datetime = Field(default_factory=utcnow)
