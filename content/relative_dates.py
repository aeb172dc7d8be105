"""Date slots whose default is relative to the campaign ("the Saturday before send_by"),
resolved per partner in the partner's own time zone: send_by at 23:30 UTC on a Friday is
already Saturday in Amsterdam, and the partner's calendar is the one that counts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from content.spec import WEEKDAYS, RelativeDate, TemplateContent


def local_day(at: datetime, zone: str) -> date:
    """The calendar date of `at` in `zone` (UTC for an unknown or empty zone)."""
    try:
        tz = ZoneInfo(zone) if zone else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    aware = at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo("UTC"))
    return aware.astimezone(tz).date()


def resolve(rule: RelativeDate, anchor: date) -> date:
    """Move `days` in the rule's direction, then to the weekday strictly beyond that day."""
    step = -1 if rule.direction == "before" else 1
    day = anchor + timedelta(days=step * rule.days)
    if rule.weekday is not None:
        wanted = WEEKDAYS.index(rule.weekday)
        day += timedelta(days=step)
        while day.weekday() != wanted:
            day += timedelta(days=step)
    return day


def resolved_defaults(
    content: TemplateContent, send_by: datetime, personalise_until: datetime, zone: str
) -> dict[str, str]:
    """Each date slot with a relative default, as YYYY-MM-DD for a partner in `zone`."""
    anchors = {
        "send_by": local_day(send_by, zone),
        "personalise_until": local_day(personalise_until, zone),
    }
    return {
        slot.name: resolve(
            slot.relative_default, anchors[slot.relative_default.relative_to]
        ).isoformat()
        for slot in content.slots
        if slot.relative_default is not None
    }
