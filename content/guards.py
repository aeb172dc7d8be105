"""Checks around the filters and methods a template can call, by name.

Each filter and each method of a built-in value (str, bytes, int, dict, Markup) that can build
something larger than its inputs has a check that predicts the result's size from the
arguments and refuses it before the call. Results are counted towards the render's total
after the call; operations that grow their input by a small fixed factor only (case mapping,
escaping, encoding: at most 12 times a value already within the limits) are checked there.
Iterators a filter returns are capped at MAX_ITEMS items, so everything consuming them (a
list, a sort, `loop.length`) stays bounded too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sized
from itertools import islice
from typing import Any, cast

from jinja2.filters import make_attrgetter
from markupsafe import Markup, escape

from content.budget import MAX_FILTER_WIDTH, MAX_ITEMS, Budget, RenderError, current
from content.sizes import (
    huge_format,
    line_count,
    percent_size,
    replace_size,
    text_size,
)

HUGE_FORMAT_MESSAGE = "format widths of 10000 and more are not allowed"
MAX_SUM_COPIES = 100 * MAX_ITEMS  # sum() of lists copies the growing list for every part
# Filters that turn their value into text first (str(), escape(), ...).
STRINGIFYING = frozenset(
    {
        "capitalize",
        "center",
        "e",
        "escape",
        "forceescape",
        "format",
        "indent",
        "lower",
        "safe",
        "string",
        "striptags",
        "title",
        "trim",
        "truncate",
        "upper",
        "urlencode",
        "urlize",
        "wordcount",
        "wordwrap",
        "xmlattr",
    }
)
# Filters that hold all items of their value at once (a string's items are its characters).
COLLECTING = frozenset({"list", "sort", "unique", "dictsort", "groupby", "slice"})

Args = tuple[Any, ...]
Kwargs = dict[str, Any]


def capped(items: Iterable[Any], what: str) -> Iterator[Any]:
    """`items` as an iterator that refuses to yield more than MAX_ITEMS."""
    for count, item in enumerate(items):
        if count >= MAX_ITEMS:
            raise RenderError(f"{what} would give more than {MAX_ITEMS:,} items")
        yield item


def collect(budget: Budget, items: Any, what: str) -> list[Any]:
    """All items of `items` in a list, refusing more than MAX_ITEMS before collecting."""
    if isinstance(items, Sized):
        budget.check_items(len(items), what)
        return items if isinstance(items, list) else list(cast(Iterable[Any], items))
    collected = list(islice(items, MAX_ITEMS + 1))
    budget.check_items(len(collected), what)
    return collected


def count_result(budget: Budget, result: Any, what: str) -> Any:
    """Count a new value towards the render's total (and refuse it when over a limit)."""
    if isinstance(result, str | bytes | bytearray):
        budget.build(len(result), what)
    elif isinstance(result, list | tuple | dict | set | frozenset):
        budget.check_items(len(result), what)
    elif isinstance(result, Iterator) and not isinstance(result, Sized):
        return capped(result, what)
    return result


def text_of(budget: Budget, value: Any, what: str) -> int:
    """Refuse to turn `value` into text when that text would be over the limit."""
    size = text_size(value, budget.max_output)
    budget.check_value(size, what)
    return size


def check_percent(budget: Budget, fmt: str | bytes | bytearray, args: Any, what: str) -> None:
    if huge_format(fmt):
        raise RenderError(HUGE_FORMAT_MESSAGE)
    budget.check_value(percent_size(fmt, args, budget.max_output), what)


# --- filters --------------------------------------------------------------------------------


def _width(width: Any, name: str) -> None:
    if isinstance(width, int) and abs(width) > MAX_FILTER_WIDTH:
        raise RenderError(f"{name} width {width} is over {MAX_FILTER_WIDTH}")


def _f_center(budget: Budget, value: Any, width: Any = 80) -> None:
    _width(width, "center")


def _f_indent(
    budget: Budget, s: Any, width: Any = 4, first: bool = False, blank: bool = False
) -> None:
    _width(width, "indent")
    indention = len(width) if isinstance(width, str) else max(int(width), 0)
    text = str(s)
    budget.check_value(len(text) + line_count(text) * indention, "|indent")


def _f_format(budget: Budget, value: Any, *args: Any, **kwargs: Any) -> None:
    check_percent(budget, str(value), kwargs or args, "|format")


def _f_replace(
    budget: Budget, eval_ctx: Any, s: Any, old: Any, new: Any, count: Any = None
) -> None:
    """Mirrors do_replace: which of the three strings get escaped decides the sizes."""
    text: str
    if not eval_ctx.autoescape:
        text = str(s)
    elif hasattr(old, "__html__") or (hasattr(new, "__html__") and not hasattr(s, "__html__")):
        text = escape(s)
    else:
        text = s if isinstance(s, str) else str(s)
    if isinstance(text, Markup):
        old, new = escape(old), escape(new)
    else:
        old, new = str(old), str(new)
    budget.check_value(replace_size(text, old, new, count), "|replace")


def _f_join(
    budget: Budget, eval_ctx: Any, value: Any, d: Any = "", attribute: Any = None
) -> tuple[Args, Kwargs]:
    items = collect(budget, value, "|join")
    limit = budget.max_output
    size = sum(text_size(i, limit, quoted=attribute is not None) for i in items)
    size += len(str(d)) * max(len(items) - 1, 0)
    budget.check_value(size, "|join")
    return (eval_ctx, items, d, attribute), {}


def _f_wordwrap(
    budget: Budget,
    environment: Any,
    s: Any,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: Any = None,
    break_on_hyphens: bool = True,
) -> None:
    text = str(s)
    wrap = environment.newline_sequence if wrapstring is None else str(wrapstring)
    budget.check_value(len(text) + (len(text) + line_count(text)) * len(wrap), "|wordwrap")


def _f_urlize(
    budget: Budget,
    eval_ctx: Any,
    value: Any,
    trim_url_limit: Any = None,
    nofollow: bool = False,
    target: Any = None,
    rel: Any = None,
    extra_schemes: Any = None,
) -> None:
    text = str(value)
    attributes = len(str(target or "")) + len(str(rel or ""))
    budget.check_value(len(text) + (len(text) // 2 + 1) * attributes, "|urlize")


def _f_tojson(budget: Budget, eval_ctx: Any, value: Any, indent: Any = None) -> None:
    _width(indent, "tojson indent")
    width = len(indent) if isinstance(indent, str) else int(indent or 0)
    size = text_size(value, budget.max_output, quoted=True, indent=width)
    budget.check_value(size, "|tojson")


def _f_pprint(budget: Budget, value: Any) -> None:
    budget.check_value(text_size(value, budget.max_output, quoted=True, indent=2), "|pprint")


def _f_batch(budget: Budget, value: Any, linecount: Any, fill_with: Any = None) -> None:
    if fill_with is not None:
        budget.check_items(int(linecount), "|batch")
    if isinstance(value, Sized) and isinstance(linecount, int) and linecount > 0:
        budget.check_items(len(value) // linecount + 1, "|batch")


def _f_slice(budget: Budget, eval_ctx: Any, value: Any, slices: Any, fill_with: Any = None) -> None:
    budget.check_items(int(slices), "|slice")


def _f_sum(
    budget: Budget, environment: Any, iterable: Any, attribute: Any = None, start: Any = 0
) -> tuple[Args, Kwargs]:
    items = collect(budget, iterable, "|sum")
    if isinstance(start, list | tuple):
        parts = items
        if attribute is not None:
            getter = make_attrgetter(environment, attribute)
            parts = [getter(item) for item in items]
        total = len(start) + sum(len(p) for p in parts if isinstance(p, Sized))
        budget.check_items(total, "|sum")
        if total * len(parts) > MAX_SUM_COPIES:
            raise RenderError(f"|sum of {len(parts):,} lists would copy too many items")
    return (environment, items, attribute, start), {}


FILTER_CHECKS: dict[str, Callable[..., tuple[Args, Kwargs] | None]] = {
    "center": _f_center,
    "indent": _f_indent,
    "format": _f_format,
    "replace": _f_replace,
    "join": _f_join,
    "wordwrap": _f_wordwrap,
    "urlize": _f_urlize,
    "tojson": _f_tojson,
    "pprint": _f_pprint,
    "batch": _f_batch,
    "slice": _f_slice,
    "sum": _f_sum,
}


def guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` with the checks for filter `name`; keeps Jinja's pass-argument marker."""
    offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
    check = FILTER_CHECKS.get(name)
    stringifies = name in STRINGIFYING
    collects = name in COLLECTING
    what = f"|{name}"

    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = current()
        value = args[offset] if len(args) > offset else None
        if stringifies:
            text_of(budget, value, what)
        if collects and isinstance(value, Sized):
            budget.check_items(len(value), what)
        if check is not None:
            replaced = check(budget, *args, **kwargs)
            if replaced is not None:
                args, kwargs = replaced
        result = func(*args, **kwargs)
        if result is value:
            return result
        return count_result(budget, result, what)

    return functools.update_wrapper(guarded, func)


# --- methods of built-in values -------------------------------------------------------------


def _m_width(budget: Budget, owner: Any, args: Args, kwargs: Kwargs) -> None:
    width = args[0] if args else 0
    budget.check_value(max(len(owner), int(width)), "padding")


def _m_expandtabs(budget: Budget, owner: Any, args: Args, kwargs: Kwargs) -> None:
    tabsize = args[0] if args else kwargs.get("tabsize", 8)
    tab = b"\t" if isinstance(owner, bytes | bytearray) else "\t"
    budget.check_value(len(owner) + owner.count(tab) * max(int(tabsize), 0), "expandtabs()")


def _m_replace(budget: Budget, owner: Any, args: Args, kwargs: Kwargs) -> None:
    old, new = args[0], args[1]
    count = args[2] if len(args) > 2 else kwargs.get("count", -1)
    if isinstance(owner, Markup):
        old, new = escape(old), escape(new)
    budget.check_value(replace_size(owner, old, new, count), "replace()")


def _m_join(budget: Budget, owner: Any, args: Args, kwargs: Kwargs) -> tuple[Args, Kwargs]:
    items = collect(budget, args[0], "join()")
    limit = budget.max_output
    if isinstance(owner, Markup):
        size = sum(text_size(i, limit) for i in items)
    else:
        size = sum(len(i) for i in items if isinstance(i, str | bytes | bytearray))
    budget.check_value(size + len(owner) * max(len(items) - 1, 0), "join()")
    return (items,), kwargs


def _m_translate(budget: Budget, owner: Any, args: Args, kwargs: Kwargs) -> None:
    table = args[0] if args else None
    values: Iterable[Any] = ()
    if isinstance(table, dict):
        values = table.values()
    elif isinstance(table, list | tuple):
        values = table
    longest = max((len(v) for v in values if isinstance(v, str)), default=1)
    budget.check_value(len(owner) * max(longest, 1), "translate()")


def _m_split(budget: Budget, owner: Any, args: Args, kwargs: Kwargs) -> tuple[Args, Kwargs]:
    sep = args[0] if args else kwargs.get("sep")
    maxsplit = args[1] if len(args) > 1 else kwargs.get("maxsplit", -1)
    if sep is not None:
        parts = owner.count(sep) + 1
        budget.check_items(parts if maxsplit < 0 else min(parts, maxsplit + 1), "split()")
    elif not 0 <= maxsplit <= MAX_ITEMS:
        maxsplit = MAX_ITEMS  # one part more than allowed shows there were too many
    return (), {"sep": sep, "maxsplit": maxsplit}


def _m_splitlines(budget: Budget, owner: Any, args: Args, kwargs: Kwargs) -> None:
    if isinstance(owner, str):
        lines = line_count(owner)
    else:
        lines = owner.count(b"\n") + owner.count(b"\r") + 1
    budget.check_items(lines, "splitlines()")


def _m_to_bytes(budget: Budget, owner: Any, args: Args, kwargs: Kwargs) -> None:
    length = args[0] if args else kwargs.get("length", 1)
    budget.check_value(int(length), "to_bytes()")


def _m_fromkeys(budget: Budget, owner: Any, args: Args, kwargs: Kwargs) -> tuple[Args, Kwargs]:
    return (collect(budget, args[0], "fromkeys()"), *args[1:]), kwargs


def _m_escape(budget: Budget, owner: Any, args: Args, kwargs: Kwargs) -> None:
    if args:
        text_of(budget, args[0], "escape()")


_TEXT = (str, bytes, bytearray)
MethodCheck = Callable[[Budget, Any, Args, Kwargs], "tuple[Args, Kwargs] | None"]
# Method name -> (types of the value it is bound to, check).
METHOD_CHECKS: dict[str, tuple[Any, MethodCheck]] = {
    "center": (_TEXT, _m_width),
    "ljust": (_TEXT, _m_width),
    "rjust": (_TEXT, _m_width),
    "zfill": (_TEXT, _m_width),
    "expandtabs": (_TEXT, _m_expandtabs),
    "replace": (_TEXT, _m_replace),
    "join": (_TEXT, _m_join),
    "translate": (str, _m_translate),
    "split": (_TEXT, _m_split),
    "rsplit": (_TEXT, _m_split),
    "splitlines": (_TEXT, _m_splitlines),
    "to_bytes": (int, _m_to_bytes),
    "fromkeys": (type, _m_fromkeys),
    "escape": (type, _m_escape),
}


def check_method(budget: Budget, method: Any, args: Args, kwargs: Kwargs) -> tuple[Args, Kwargs]:
    """Refuse a call of a built-in value's method whose result would be over a limit."""
    entry = METHOD_CHECKS.get(getattr(method, "__name__", ""))
    if entry is not None:
        owner = getattr(method, "__self__", None)
        kinds, check = entry
        if isinstance(owner, kinds):
            replaced = check(budget, owner, args, kwargs)
            if replaced is not None:
                return replaced
    return args, kwargs
