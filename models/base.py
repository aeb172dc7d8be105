"""Shared column helpers, and the one rule for datetimes that callers send."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator
from sqlalchemy import Dialect, String
from sqlalchemy.types import TypeDecorator


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


class EnumText(TypeDecorator[StrEnum]):
    """A state column: stored as its text, read back as its enum member, so code compares
    with members and a value outside the enum fails loudly when it is read."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: object, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(str(value)).value

    def process_result_value(self, value: object, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(str(value))
