"""Paging for the portal's lists: the API's keyset cursors behind plain links.

A list page reads `cursor` from its query, asks the service for one page (never more than
`PAGE` rows), and shows a "Next page" link carrying the page's filters and the next cursor,
and, after the first page, a link back to it. No script is needed; a cursor that was altered
answers the portal's 422 page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from pydantic import BeforeValidator, Field

from core.settings import Settings
from services.paging import CURSOR_MAX_LEN, Paged, PageRequest

PAGE = 50

CursorQuery = Annotated[str | None, Query(min_length=1, max_length=CURSOR_MAX_LEN)]


def _blank_is_none(value: object) -> object:
    """A GET form's "All" option sends the field empty: that is no filter."""
    return None if value == "" else value


Blank = BeforeValidator(_blank_is_none)
IdFilter = Annotated[Annotated[int, Field(ge=1, le=2**63 - 1)] | None, Blank, Query()]


def portal_page(settings: Settings, cursor: str | None, limit: int = PAGE) -> PageRequest:
    return PageRequest(secret=settings.secret_key.get_secret_value(), limit=limit, cursor=cursor)


@dataclass(frozen=True)
class Pager:
    """What `_pager.html` shows under a list."""

    next_url: str | None
    first_url: str | None
    total: int | None
    later: bool  # this is not the first page


def pager(request: Request, result: Paged[Any], filters: Mapping[str, object]) -> Pager:
    """Links for `result`: the same path and filters (empty ones left out), with the next
    page's cursor, and back to the first page."""
    kept = {k: str(v) for k, v in filters.items() if v not in (None, "")}
    path = request.url.path
    first = f"{path}?{urlencode(kept)}" if kept else path
    later = bool(request.query_params.get("cursor"))
    next_url = None
    if result.next_cursor:
        next_url = f"{path}?{urlencode({**kept, 'cursor': result.next_cursor})}"
    return Pager(next_url, first if later else None, result.total, later)
