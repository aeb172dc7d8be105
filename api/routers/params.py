"""Query parameters shared by list routes: keyset paging (`limit`, `cursor`; `offset`
deprecated) and the page every list answers (services.paging has the rules)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query

from api.deps import SettingsDep
from core.errors import FieldError
from models.schemas import Page
from services.paging import (
    CURSOR_MAX_LEN,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_OFFSET,
    Paged,
    PageRequest,
)

T = TypeVar("T")

Paging = PageRequest


def paging(
    settings: SettingsDep,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=CURSOR_MAX_LEN,
            description="`next_cursor` of the previous page, as given (opaque; it belongs to "
            "this list and sort order); omitted for the first page",
        ),
    ] = None,
    offset: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_OFFSET,
            deprecated=True,
            description=f"Deprecated, use `cursor`: rows to skip (at most {MAX_OFFSET:,}); "
            "not together with `cursor`",
        ),
    ] = 0,
) -> PageRequest:
    if cursor is not None and offset:
        raise FieldError("offset", "cannot be combined with cursor")
    return PageRequest(
        secret=settings.secret_key.get_secret_value(), limit=limit, cursor=cursor, offset=offset
    )


PagingDep = Annotated[PageRequest, Depends(paging)]


def page_of(result: Paged[Any], request: PageRequest, items: Iterable[T]) -> Page[T]:
    """The API's page: `items` are `result.items` as the route shows them."""
    return Page(
        items=list(items),
        limit=request.limit,
        offset=request.offset,
        next_cursor=result.next_cursor,
        total=result.total,
    )
