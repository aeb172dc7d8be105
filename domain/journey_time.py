"""A journey's clock: local days, recurring dates and the end of waits, in the partner's zone.

Pure functions of their arguments (no clock, no I/O): the contact workflow computes its timers
from workflow.now(), the sweep from the instant its run was given, so both replay the same.
Local wall-clock times are turned into UTC through the zone, so a wait "until 09:00" is 09:00
on both sides of a change to or from summer time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str) -> ZoneInfo:
    """The partner's zone; UTC for a name the zone database does not know."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_date(now: datetime, tz: ZoneInfo) -> date:
    return (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(tz).date()


def at_local(day: date, at: time, tz: ZoneInfo) -> datetime:
    """`day` at wall-clock `at` in `tz`, as UTC (a time skipped by a summer-time change
    resolves forward, as zoneinfo does with fold 0)."""
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz).astimezone(UTC)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def recurs_on(value: object, today: date) -> bool:
    """Whether a date attribute (YYYY-MM-DD) recurs on `today`: same month and day; a 29
    February comes round on 28 February in years without one. Anything not a date: never."""
    if not isinstance(value, str):
        return False
    try:
        born = date.fromisoformat(value.strip()[:10])
    except ValueError:
        return False
    if (born.month, born.day) == (today.month, today.day):
        return True
    leap_day = (born.month, born.day) == (2, 29)
    return leap_day and (today.month, today.day) == (2, 28) and not _is_leap(today.year)


def wait_until(now: datetime, days: int | None, until: time | None, tz: ZoneInfo) -> datetime:
    """When a wait step ends: `days` later (calendar days in the partner's zone, so a week is
    a week whatever the clock change), then the next `until` local time at or after that.
    Days alone keep the local time of day of `now`."""
    local = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(tz)
    day = local.date() + timedelta(days=days or 0)
    if until is None:
        return at_local(day, local.time().replace(tzinfo=None), tz)
    target = at_local(day, until, tz)
    if target < now:
        target = at_local(day + timedelta(days=1), until, tz)
    return target
