"""The states of a catalogue item, spelled once (see states.py)."""

from __future__ import annotations

from enum import StrEnum


class CatalogueState(StrEnum):
    draft = "draft"  # HQ prepares it; partners do not see it
    published = "published"  # partners in its audience see and order it
    withdrawn = "withdrawn"  # no new orders; campaigns already ordered go on
