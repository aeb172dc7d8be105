"""Sign-in links already used: a link signs in once (services.signin_links)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import utcnow


class UsedSignInLink(SQLModel, table=True):
    # SHA-256 of the token's text (hex): one text per token (core.signing's canonical form).
    digest: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    partner_campaign_id: int
    used_at: datetime = Field(default_factory=utcnow)
    # The link's own expiry: rows after it can be deleted (the link is refused anyway).
    expires_at: datetime = Field(index=True)
