"""A series' recurrence: a cron line or "the nth weekday of every month", in a time zone.

Both become one calendar (minutes, hours, days of the month, months, days of the week) whose
fields must all match, as a Temporal Schedule's calendar spec matches: "0 9 1-7 * 1" is the
first Monday of every month at 09:00 (unlike classic cron, which would OR the two day fields).
The same calendar gives the Schedule's spec (services.series.schedules) and the next
occurrences the series page shows, so both agree by construction.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, model_validator

HORIZON_DAYS = 5 * 366  # a recurrence with no occurrence within five years is refused


class Weekday(StrEnum):
    sunday = "sunday"
    monday = "monday"
    tuesday = "tuesday"
    wednesday = "wednesday"
    thursday = "thursday"
    friday = "friday"
    saturday = "saturday"


WEEKDAYS = list(Weekday)  # index = cron's day of the week (0 = Sunday)


class MonthlyWeekday(BaseModel):
    """The nth weekday of every month at a local time, e.g. the first Monday at 09:00."""

    model_config = ConfigDict(extra="forbid")

    nth: int = Field(ge=1, le=4, description="1-4: the first to fourth such weekday")
    weekday: Weekday
    at: time = Field(time(9, 0), description="local time of day (HH:MM)")


class Recurrence(BaseModel):
    """Exactly one of `cron` (five fields: minute hour day-of-month month day-of-week, all of
    which must match) or `monthly`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"monthly": {"nth": 1, "weekday": "monday"}}]},
    )

    cron: str | None = Field(None, max_length=100, examples=["0 9 * * 1"])
    monthly: MonthlyWeekday | None = None

    @model_validator(mode="after")
    def _one(self) -> Recurrence:
        if (self.cron is None) == (self.monthly is None):
            raise ValueError("give exactly one of cron or monthly")
        calendar_of(self)  # the cron line parses
        return self

    def describe(self) -> str:
        if self.monthly is not None:
            m = self.monthly
            nth = ["first", "second", "third", "fourth"][m.nth - 1]
            return f"the {nth} {m.weekday.value.title()} of every month at {m.at:%H:%M}"
        return f"cron {self.cron}"


class Calendar(BaseModel):
    minutes: list[int]
    hours: list[int]
    days: list[int]
    months: list[int]
    weekdays: list[int]

    def matches_day(self, day: date) -> bool:
        return (
            day.day in self.days
            and day.month in self.months
            and (day.isoweekday() % 7) in self.weekdays
        )


FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12))


def _field(text: str, name: str, low: int, high: int) -> list[int]:
    out: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body == "*":
                start, end = low, high
            elif "-" in body:
                a, b = body.split("-", 1)
                start, end = int(a), int(b)
            else:
                start = end = int(body)
                if step_text:
                    end = high
        except ValueError:
            raise ValueError(f"cron: {name} {part!r} is not a number, range or list") from None
        if step < 1 or start < low or end > high or start > end:
            raise ValueError(f"cron: {name} {part!r} must lie within {low}-{high}")
        out.update(range(start, end + 1, step))
    return sorted(out)


def calendar_of(recurrence: Recurrence) -> Calendar:
    if recurrence.monthly is not None:
        m = recurrence.monthly
        first = (m.nth - 1) * 7 + 1
        return Calendar(
            minutes=[m.at.minute],
            hours=[m.at.hour],
            days=list(range(first, first + 7)),
            months=list(range(1, 13)),
            weekdays=[WEEKDAYS.index(m.weekday)],
        )
    parts = (recurrence.cron or "").split()
    if len(parts) != 5:
        raise ValueError("cron: five fields: minute hour day-of-month month day-of-week")
    values = [_field(p, name, lo, hi) for p, (name, lo, hi) in zip(parts, FIELDS, strict=False)]
    weekdays = sorted({d % 7 for d in _field(parts[4], "day of week", 0, 7)})
    return Calendar(
        minutes=values[0], hours=values[1], days=values[2], months=values[3], weekdays=weekdays
    )


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Europe/Berlin)") from None


def occurrences(recurrence: Recurrence, tz_name: str, after: datetime) -> Iterator[datetime]:
    """The occurrences strictly after `after`, as aware local datetimes, in order (at most
    five years ahead). A local time that does not exist (a spring-forward gap) is read as the
    wall clock after the gap, as zoneinfo does."""
    cal = calendar_of(recurrence)
    tz = zone(tz_name)
    start = after.astimezone(tz)
    for offset in range(HORIZON_DAYS):
        day = start.date() + timedelta(days=offset)
        if not cal.matches_day(day):
            continue
        for hour in cal.hours:
            for minute in cal.minutes:
                at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
                if at > start:
                    yield at


def next_occurrences(
    recurrence: Recurrence, tz_name: str, after: datetime, count: int
) -> list[datetime]:
    out: list[datetime] = []
    for at in occurrences(recurrence, tz_name, after):
        out.append(at)
        if len(out) == count:
            break
    return out
