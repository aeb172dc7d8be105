"""The states of campaign series and their occurrences, spelled once (see states.py)."""

from __future__ import annotations

from enum import StrEnum


class SeriesState(StrEnum):
    active = "active"  # its Schedule fires
    paused = "paused"  # its Schedule is paused: occurrences that come due are skipped
    ended = "ended"  # its Schedule is deleted; the past occurrences stay


class OccurrenceState(StrEnum):
    launched = "launched"  # its campaign was created and launched
    skipped = "skipped"  # due while the series was paused, or skipped ahead by HQ
    failed = "failed"  # its campaign could not be launched (the reason is kept)


SERIES_LIVE = frozenset({SeriesState.active, SeriesState.paused})
