"""Size predictions: how large a value will be, computed from the inputs before it is built.

The predictions are upper bounds (never smaller than the real result) and cheap: they count,
they never build. Containers are walked without recursion and the walk stops as soon as the
running total passes the caller's limit, so a deeply shared structure (a list holding the same
big list a thousand times) costs no more than the limit to measure.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping
from typing import Any

from markupsafe import Markup

# Widths/precisions of 10000+ or taken from arguments, in %-style and {}-style format strings.
_HUGE_FORMAT = re.compile(
    r"%(?:\([^)]*\))?[-+ #0]*(?:[0-9]{5,}|\*|[0-9]*\.(?:[0-9]{5,}|\*))"
    r"|\{[^{}]*:[^{}]*(?:[0-9]{5,}|\{)"
)
_PERCENT_SPEC = re.compile(
    r"%(?:\(([^)]*)\))?[-+ #0]*(\*|[0-9]+)?(?:\.(\*|[0-9]*))?[hlL]?(.)", re.DOTALL
)
_NUMBERS = re.compile(r"[0-9]+")
_CONTAINERS: tuple[type[Collection[Any]], ...] = (
    list,
    tuple,
    set,
    frozenset,
    dict,
    type({}.keys()),
    type({}.values()),
)
_ITEMS_VIEW: type[Collection[tuple[Any, Any]]] = type({}.items())
_WALKED = (*_CONTAINERS, _ITEMS_VIEW)
# Characters str.splitlines() breaks at.
LINE_BREAKS = ("\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
QUOTE_FACTOR = 12  # repr, ascii and JSON write a character as at most 12 ("\ud83d\ude00")
FLOAT_DIGITS = 330  # "%f" of the largest float


def huge_format(fmt: Any) -> bool:
    """A %- or {}-format with a width or precision of 10000+ or taken from an argument."""
    if isinstance(fmt, bytes | bytearray):
        fmt = fmt.decode("latin-1")
    return isinstance(fmt, str) and _HUGE_FORMAT.search(fmt) is not None


def int_digits(value: int) -> int:
    """At most this many characters in any base from 8 up, sign included."""
    return value.bit_length() // 3 + 2


def text_size(value: Any, limit: int, *, quoted: bool = False, indent: int = 0) -> int:
    """An upper bound of `len(str(value))` (or of its repr/JSON with `quoted`, where strings
    gain quotes and escapes, with `indent` characters per nesting level and item as pprint and
    JSON indent); stops counting once past `limit`."""
    kind = type(value)
    if not quoted and (kind is str or kind is Markup):
        return len(value)
    if not isinstance(value, _WALKED):
        return _scalar_size(value, quoted)
    total = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            total += 2 + len(item) * (4 + indent * (depth + 1))
            for key, val in item.items():
                stack.append((key, depth + 1))
                stack.append((val, depth + 1))
        elif isinstance(item, _CONTAINERS):
            total += 2 + len(item) * (2 + indent * (depth + 1))
            stack.extend((element, depth + 1) for element in item)
        elif isinstance(item, _ITEMS_VIEW):
            total += 2 + len(item) * (8 + indent * (depth + 1))
            for key, val in item:
                stack.append((key, depth + 1))
                stack.append((val, depth + 1))
        else:
            total += _scalar_size(item, True)
        if total > limit:
            return total
    return total


def _scalar_size(value: Any, quoted: bool) -> int:
    if isinstance(value, str):
        return QUOTE_FACTOR * len(value) + 2 if quoted else len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return int_digits(value)
    if isinstance(value, float):
        return 24
    if isinstance(value, bytes | bytearray):
        return 4 * len(value) + 14  # b'\x00', or bytearray(b'...')
    return 100  # anything else prints as a short description (a range, a macro, ...)


def percent_size(fmt: str | bytes | bytearray, args: Any, limit: int) -> int:
    """An upper bound of `len(fmt % args)`; call only after `huge_format(fmt)` said no.

    Each conversion counts its width, its precision and the text of the argument it takes; a
    mapping key may be used many times, and each use counts."""
    text = fmt if isinstance(fmt, str) else fmt.decode("latin-1")
    positional = args if isinstance(args, tuple) else (args,)
    mapping = args if isinstance(args, Mapping) else None
    size, index = len(text), 0
    for key, width, precision, conversion in _percent_specs(text):
        if key is not None:
            value = mapping.get(key, "") if mapping is not None else ""
        else:
            value = positional[index] if index < len(positional) else ""
            index += 1
        size += int(width or 0) + int(precision or 0)
        assert conversion is not None
        if conversion in "ra":
            size += text_size(value, limit, quoted=True)
        elif conversion in "sb":
            size += text_size(value, limit)
        elif conversion == "c":
            size += 1
        elif isinstance(value, int):
            size += int_digits(value)
        else:
            size += FLOAT_DIGITS
        if size > limit:
            break
    return size


@functools.lru_cache(maxsize=256)
def _percent_specs(text: str) -> tuple[tuple[str | None, ...], ...]:
    """(key, width, precision, conversion) of each conversion of a %-format (`%%` left out);
    templates use the same few formats again and again."""
    return tuple(m.groups() for m in _PERCENT_SPEC.finditer(text) if m.group(4) != "%")


def field_size(value: Any, format_spec: str, limit: int) -> int:
    """An upper bound of `len(format(value, format_spec))` (one {}-field of str.format)."""
    widths = sum(int(n) for n in _NUMBERS.findall(format_spec))
    if isinstance(value, float):
        return widths + FLOAT_DIGITS
    return widths + 2 * text_size(value, limit)  # number grouping adds at most a third


def replace_size(
    s: str | bytes, old: str | bytes, new: str | bytes, count: int | None = None
) -> int:
    """Exactly `len(s.replace(old, new, count))`, counted without replacing."""
    hits = len(s) + 1 if not old else s.count(old)  # type: ignore[arg-type]
    if count is not None and count >= 0:
        hits = min(hits, count)
    return max(len(s) + hits * (len(new) - len(old)), 0)


def line_count(s: str) -> int:
    """At most this many lines in `s` (str.splitlines, textwrap and indent agree)."""
    return sum(s.count(c) for c in LINE_BREAKS) + 1
