"""What a standing approval approves, and how a partner's values carry to the next occurrence.

Date slots are read relative to the occurrence: an open day "eight days after the newsletter"
is the same content every month, so the values carry over shifted by the months between the
occurrences, and the fingerprint holds the offset, not the calendar date."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from typing import Any

from content.spec import SlotKind, TemplateContent


def date_slots(content: TemplateContent) -> set[str]:
    return {s.name for s in content.slots if s.kind == SlotKind.date}


def _as_date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def carried(
    values: dict[str, Any], content: TemplateContent, was_on: date, now_on: date
) -> dict[str, Any]:
    """The previous occurrence's values for this one: dates moved by the gap between them."""
    shift = timedelta(days=(now_on - was_on).days)
    dated = date_slots(content)
    out = dict(values)
    for name in dated & set(values):
        day = _as_date(values[name])
        if day is not None:
            out[name] = (day + shift).isoformat()
    return out


def fingerprint(
    content: TemplateContent,
    version_id: int,
    defaults: dict[str, Any],
    values: dict[str, Any],
    occurs_on: date,
) -> str:
    """SHA-256 of HQ's locked content, the series' defaults and the partner's values (dates as
    days from the occurrence), in one canonical JSON spelling."""
    dated = date_slots(content)
    relative: dict[str, Any] = {}
    for name, value in values.items():
        day = _as_date(value) if name in dated else None
        relative[name] = {"days_after": (day - occurs_on).days} if day is not None else value
    locked = {
        s.name: s.model_dump(mode="json", include={"default", "kind"})
        for s in content.slots
        if s.locked
    }
    canonical = json.dumps(
        {"version": version_id, "locked": locked, "defaults": defaults, "values": relative},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
