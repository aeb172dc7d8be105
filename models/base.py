"""Shared column helpers, and the one rule for datetimes that callers send."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def utcnow() -> datetime:
    """Aware UTC; SQLModel's datetime columns refuse naive values and return UTC."""
    return datetime.now(UTC)


def require_zone(value: datetime) -> datetime:
    """A time without a zone means a different moment to every reader: refused, never
    guessed. Stored and compared in UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a time zone, e.g. 2026-01-01T09:00:00Z or +01:00")
    return value.astimezone(UTC)


# Every datetime an API caller sends (bodies and queries): 422 naming the field when naive.
ZonedDatetime = Annotated[datetime, AfterValidator(require_zone)]
