"""One row /ready rewrites: the proof that the database takes writes, not only reads."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import utcnow


class ReadinessProbe(SQLModel, table=True):
    id: int = Field(default=1, primary_key=True)
    checked_at: datetime = Field(default_factory=utcnow)
