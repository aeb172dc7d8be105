"""Pydantic's refusals as a person reads them: each field named by its label, one sentence per
kind of problem, in the reader's language.

The portal's forms validate with the API's own models, so they accept exactly what the API
accepts; pydantic's messages are English for developers ("Input should be greater than or
equal to 1"). Here each error type the forms can produce gets a sentence of its own, and a
generic one covers the rest, so nothing English leaks onto a page. A validator's own words
reach the page only when they are a `core.said.Said` (translated); any other text stays out:
it may quote what was typed, which the page already shows in its field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from core.errors import Problem
from core.said import Said
from i18n.formats import number
from i18n.translate import gettext, ngettext, translated

Errors = dict[str, str]

# One field's problem, in the reader's words; `field` is the field's translated label.
_WHOLE = ("int_parsing", "int_type", "int_from_float", "int_parsing_size")
_NUMBER = ("float_parsing", "float_type", "decimal_parsing", "decimal_type", "finite_number")
_DATE = (
    "date_parsing",
    "date_type",
    "date_from_datetime_parsing",
    "date_from_datetime_inexact",
)
_DATETIME = ("datetime_parsing", "datetime_type", "datetime_from_date_parsing")
_CHOICE = ("literal_error", "enum")
_BOOL = ("bool_parsing", "bool_type")


def _limit(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return number(value)


def _count(ctx: Mapping[str, Any], key: str) -> int:
    try:
        return int(ctx.get(key, 0) or 0)
    except (TypeError, ValueError):
        return 0


def schema_message(error: Mapping[str, Any], field: str) -> str:
    """One pydantic error (an item of `ValidationError.errors()`) as a sentence naming `field`."""
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind == "missing" or (kind == "string_too_short" and _count(ctx, "min_length") <= 1):
        return gettext("%(field)s: fill this in.", field=field)
    if kind == "string_too_short":
        n = _count(ctx, "min_length")
        return ngettext(
            "%(field)s: at least %(num)d character.",
            "%(field)s: at least %(num)d characters.",
            n,
            field=field,
        )
    if kind == "string_too_long":
        n = _count(ctx, "max_length")
        return ngettext(
            "%(field)s: at most %(num)d character.",
            "%(field)s: at most %(num)d characters.",
            n,
            field=field,
        )
    if kind == "too_long":
        n = _count(ctx, "max_length")
        return ngettext(
            "%(field)s: at most %(num)d item.", "%(field)s: at most %(num)d items.", n, field=field
        )
    if kind == "too_short":
        n = _count(ctx, "min_length")
        return ngettext(
            "%(field)s: at least %(num)d item.",
            "%(field)s: at least %(num)d items.",
            n,
            field=field,
        )
    if kind in _WHOLE:
        return gettext("%(field)s: enter a whole number, such as 500.", field=field)
    if kind in _NUMBER:
        return gettext("%(field)s: enter a number, such as 12.50.", field=field)
    if kind == "greater_than_equal":
        return gettext("%(field)s: at least %(limit)s.", field=field, limit=_limit(ctx.get("ge")))
    if kind == "greater_than":
        return gettext("%(field)s: more than %(limit)s.", field=field, limit=_limit(ctx.get("gt")))
    if kind == "less_than_equal":
        return gettext("%(field)s: at most %(limit)s.", field=field, limit=_limit(ctx.get("le")))
    if kind == "less_than":
        return gettext("%(field)s: less than %(limit)s.", field=field, limit=_limit(ctx.get("lt")))
    if kind in _DATE:
        return gettext("%(field)s: enter a date.", field=field)
    if kind in _DATETIME:
        return gettext("%(field)s: enter a date and a time.", field=field)
    if kind in _CHOICE:
        return gettext("%(field)s: pick one of the listed choices.", field=field)
    if kind == "string_pattern_mismatch":
        return gettext("%(field)s: holds characters that are not allowed here.", field=field)
    if kind in _BOOL:
        return gettext("%(field)s: choose yes or no.", field=field)
    if kind == "string_type":
        return gettext("%(field)s: enter text.", field=field)
    if kind == "extra_forbidden":
        return gettext("%(field)s: not expected here.", field=field)
    if kind in ("value_error", "assertion_error"):
        reason = ctx.get("error")
        words = reason.args[0] if isinstance(reason, Exception) and reason.args else None
        if isinstance(words, Said):
            return gettext("%(field)s: %(reason)s", field=field, reason=translated(words))
    return gettext("%(field)s: check this value.", field=field)


def label_of(name: str, labels: Mapping[str, str]) -> str:
    """A field's label in the reader's language (`labels` holds N_ messages); a field without
    one is named as it is called, underscores as spaces."""
    found = labels.get(name)
    return gettext(found) if found else name.replace("_", " ")


def schema_errors(
    err: ValidationError | Any,
    fields: tuple[str, ...],
    labels: Mapping[str, str] | None = None,
    *,
    skip: int = 0,
) -> Errors:
    """Field name -> message, the first problem of each field. Problems of nested parts (an
    attribute condition, a list item) go to their top-level field, and a problem of no listed
    field to the first one. `skip` drops leading parts of the location (a request's "body")."""
    out: Errors = {}
    labels = labels or {}
    for error in err.errors():
        loc = tuple(error.get("loc") or ())[skip:] or ("",)
        field = str(loc[0]) if str(loc[0]) in fields else fields[0]
        out.setdefault(field, schema_message(error, label_of(field, labels)))
    return out


def field_errors(
    err: Problem, fields: tuple[str, ...], labels: Mapping[str, str] | None = None
) -> Errors:
    """A service's refusal (`Problem.errors`: field and message, the message often a
    `core.said.Said`) by field, each named by its label, in the reader's language. A field the
    form does not have goes to the first one; no listed errors: the detail, at the first."""
    out: Errors = {}
    labels = labels or {}
    for error in err.errors or []:
        name = str(error.get("field", ""))
        field = name if name in fields else fields[0]
        message = error.get("message", "")  # str() would drop a Said to English
        reason = translated(message if isinstance(message, str) else str(message))
        label = label_of(field, labels)
        out.setdefault(field, gettext("%(field)s: %(reason)s", field=label, reason=reason))
    return out or {fields[0]: translated(err.detail)}
