"""Keyset paging for every list: a sort from the list's allow-list, ties broken by id, and an
opaque cursor that says where the next page starts.

A list (`Listing`) names its sort keys; the caller picks one as `key` (ascending) or `-key`
(descending). Rows are ordered by (key, id) in that direction, and a page ends with a cursor
holding the last row's (key, id): the next page is the rows strictly after it, found through
an index instead of counted past (`OFFSET` reads and throws away every skipped row). Rows
inserted or removed meanwhile shift nothing: a walk sees every row that existed throughout,
once, and never a row twice.

The cursor is `base64url(JSON {list, sort, key values})` signed with a key derived from
`SECRET_KEY` (`core.signing`, its own purpose). A cursor that is not canonical, was altered,
belongs to another list or another sort order, or holds values of the wrong type is refused
as a 422 naming `cursor`; it never reaches SQL as anything but typed parameters. It carries
positions only: the query around it is still the caller's own scope, so a cursor taken from
someone else's list shows nothing of theirs. Rotating `SECRET_KEY` ends the cursors in use
(the next request answers 422 and the client starts again).

`total` is counted only for a first page (no cursor) and only up to `TOTAL_CAP` rows, so it
costs at most one bounded scan however large the table: None on later pages and when more
rows match than the cap.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import DateTime, Integer, String, bindparam, func, select, tuple_
from sqlmodel import Session

from core import signing
from core.errors import FieldError

T = TypeVar("T")
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
TOTAL_CAP = 10_000
MAX_OFFSET = 10_000
CURSOR_MAX_LEN = 2048
CURSOR = signing.Purpose(b"brandrelay:list-cursor:v1", mac_bytes=16)

Kind = Literal["int", "str", "datetime"]
_SQL_TYPES: dict[str, Any] = {"int": Integer(), "str": String(), "datetime": DateTime()}


@dataclass(frozen=True)
class PageRequest:
    """What the caller asked for: how many rows, and after which (cursor) or, deprecated,
    how many to skip (offset). `secret` signs and checks cursors."""

    secret: str
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    offset: int = 0


@dataclass
class Paged(Generic[T]):
    items: list[T]
    next_cursor: str | None
    total: int | None


@dataclass(frozen=True)
class Key:
    """One sort key: the SQL expression rows are ordered by and the type of its values."""

    expr: Any
    kind: Kind


@dataclass(frozen=True)
class Listing:
    """A list's name (cursors of one list are refused by every other), its sort keys, its
    default order and its id column (the tie-breaker)."""

    name: str
    id: Any
    keys: dict[str, Key]
    default: str
    ascending_only: bool = False
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        signs = ("",) if self.ascending_only else ("", "-")
        names = tuple(f"{s}{k}" for k in self.keys for s in signs)
        object.__setattr__(self, "names", names)
        assert self.default in names, self.default

    def sort_query(self, what: str = "") -> Any:
        """The `sort` query parameter of this list's route (allow-list as a pattern: any other
        value is a 422 naming `sort`)."""
        from fastapi import Query

        allowed = ", ".join(f"`{n}`" for n in self.names)
        return Query(
            self.default,
            pattern="^(" + "|".join(n.replace("-", "\\-") for n in self.names) + ")$",
            description=(
                f"Order{' ' + what if what else ''}: one of {allowed}"
                f"{'' if self.ascending_only else '; `-` for descending'}. "
                f"Ties are broken by id. Default `{self.default}`."
            ),
        )

    def order(self, sort: str) -> tuple[Key, bool]:
        """The key and whether it descends; an unknown sort is a 422 on `sort`."""
        if sort not in self.names:
            raise FieldError("sort", f"must be one of {', '.join(self.names)}")
        desc = sort.startswith("-")
        return self.keys[sort.removeprefix("-")], desc


def _encode_value(value: Any, kind: Kind) -> Any:
    if kind == "datetime":
        if not isinstance(value, datetime):
            raise TypeError(value)
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if kind == "int":
        return int(value)
    return str(value)


def _decode_value(value: Any, kind: Kind) -> Any:
    """The typed value of a cursor's JSON value, else ValueError."""
    if kind == "int":
        if type(value) is not int or abs(value) >= 2**63:
            raise ValueError("not an integer")
        return value
    if not isinstance(value, str) or len(value) > 1000:
        raise ValueError("not a text")
    if kind == "datetime":
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("no zone")
        return moment.astimezone(UTC)
    return value


def encode_cursor(secret: str, listing: Listing, sort: str, values: Sequence[Any]) -> str:
    key, _ = listing.order(sort)
    body = {
        "l": listing.name,
        "s": sort,
        "k": [_encode_value(values[0], key.kind), int(values[1])],
    }
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return signing.sign(secret, CURSOR, payload)


def decode_cursor(secret: str, listing: Listing, sort: str, cursor: str) -> tuple[Any, int]:
    """The (key value, id) a valid cursor of this list and sort holds; else 422 on `cursor`."""
    key, _ = listing.order(sort)
    payload = signing.verify(secret, CURSOR, cursor, max_len=CURSOR_MAX_LEN)
    if payload is None:
        raise FieldError("cursor", "is not a valid cursor: use next_cursor as given")
    try:
        body = json.loads(payload)
        if body["l"] != listing.name:
            raise FieldError("cursor", "belongs to another list")
        if body["s"] != sort:
            raise FieldError(
                "cursor", f"was made for sort={body['s']}: send that sort, or start again"
            )
        raw_value, raw_id = body["k"]
        return _decode_value(raw_value, key.kind), _decode_value(raw_id, "int")
    except FieldError:
        raise
    except (ValueError, KeyError, TypeError) as err:
        raise FieldError("cursor", "is not a valid cursor: use next_cursor as given") from err


def _param(value: Any, kind: Kind) -> Any:
    """A typed parameter; datetimes naive UTC, exactly as the columns hold and return them."""
    if kind == "datetime" and isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return bindparam(None, value, type_=_SQL_TYPES[kind])


def after(listing: Listing, sort: str, position: tuple[Any, int]) -> Any:
    """The WHERE clause for rows strictly after `position` in this order."""
    key, desc = listing.order(sort)
    left = tuple_(key.expr, listing.id)
    right = tuple_(_param(position[0], key.kind), _param(position[1], "int"))
    return left < right if desc else left > right


def ordered(listing: Listing, sort: str) -> list[Any]:
    key, desc = listing.order(sort)
    if desc:
        return [key.expr.desc(), listing.id.desc()]
    return [key.expr.asc(), listing.id.asc()]


def capped_count(session: Session, stmt: Any) -> int | None:
    """Rows `stmt` matches, when at most TOTAL_CAP; None when more (never a full count)."""
    bounded = stmt.order_by(None).limit(TOTAL_CAP + 1).subquery()
    found = int(session.execute(select(func.count()).select_from(bounded)).scalar_one())
    return found if found <= TOTAL_CAP else None


def _position(request: PageRequest, listing: Listing, sort: str) -> tuple[Any, int] | None:
    if request.cursor is None:
        return None
    return decode_cursor(request.secret, listing, sort, request.cursor)


def fetch(
    session: Session,
    stmt: Any,
    listing: Listing,
    sort: str,
    request: PageRequest,
    *,
    count: bool = True,
) -> Paged[Any]:
    """One page of `stmt` (a SELECT of one entity, filtered and scoped, not yet ordered) in
    `sort`'s order after the request's cursor (or offset), with the cursor of the next page.
    `count=False` leaves `total` None (lists whose count would cost too much)."""
    key, _ = listing.order(sort)
    position = _position(request, listing, sort)
    base = stmt.order_by(None)
    page_stmt = base.add_columns(key.expr, listing.id).order_by(*ordered(listing, sort))
    if position is not None:
        page_stmt = page_stmt.where(after(listing, sort, position))
    elif request.offset:
        page_stmt = page_stmt.offset(request.offset)
    rows = list(session.execute(page_stmt.limit(request.limit + 1)).all())
    more = len(rows) > request.limit
    rows = rows[: request.limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(request.secret, listing, sort, (last[-2], last[-1]))
    total = capped_count(session, base) if count and position is None else None
    return Paged([r[0] for r in rows], next_cursor, total)


def walk(
    session: Session,
    stmt: Any,
    listing: Listing,
    sort: str,
    position: tuple[Any, int] | None,
    chunk: int,
) -> Iterator[tuple[tuple[Any, int], Any]]:
    """Every row of `stmt` after `position` in `sort`'s order, with its (key, id), read
    `chunk` rows at a time by keyset (for lists filtered further in Python)."""
    key, _ = listing.order(sort)
    base = stmt.order_by(None).add_columns(key.expr, listing.id).order_by(*ordered(listing, sort))
    while True:
        page_stmt = base if position is None else base.where(after(listing, sort, position))
        rows = list(session.execute(page_stmt.limit(chunk)).all())
        for r in rows:
            position = (r[-2], r[-1])
            yield position, r[0]
        if len(rows) < chunk:
            return


def merge_page(
    streams: Iterable[Iterator[tuple[tuple[Any, int], T]]],
    listing: Listing,
    sort: str,
    request: PageRequest,
    keep: Callable[[T], bool],
    ident: Callable[[T], int],
) -> Paged[T]:
    """A page from several ordered streams of the same list (e.g. one per identity the caller
    acts as): merged in order, the same row once, only rows `keep` accepts. The total only
    when a first page holds them all: otherwise it would need every row."""
    _, desc = listing.order(sort)
    key = listing.order(sort)[0]
    merged = heapq.merge(*streams, key=lambda p: _comparable(p[0], key.kind), reverse=desc)
    seen: set[int] = set()
    out: list[tuple[tuple[Any, int], T]] = []
    skip = request.offset if request.cursor is None else 0
    for position, item in merged:
        if ident(item) in seen or not keep(item):
            continue
        seen.add(ident(item))
        if skip:
            skip -= 1
            continue
        out.append((position, item))
        if len(out) > request.limit:
            break
    more = len(out) > request.limit
    out = out[: request.limit]
    next_cursor = None
    if more and out:
        next_cursor = encode_cursor(request.secret, listing, sort, out[-1][0])
    # A first page that holds every row knows the total; counting beyond it would read them all.
    total = request.offset + len(out) if request.cursor is None and not more else None
    return Paged([item for _, item in out], next_cursor, total)


def _comparable(position: tuple[Any, int], kind: Kind) -> tuple[Any, int]:
    value = position[0]
    if kind == "datetime" and isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value, position[1]


def start(request: PageRequest, listing: Listing, sort: str) -> tuple[Any, int] | None:
    """The position a request starts after (its cursor, checked), None for a first page."""
    return _position(request, listing, sort)
