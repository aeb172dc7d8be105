"""Cells that are safe to open in a spreadsheet: the one guard every CSV or XLSX export uses.

A spreadsheet runs a cell as a formula when it starts with `=`, `+`, `-` or `@` (and some drop a
leading tab or carriage return first), which lets a contact's name or an audit comment call
out to the network or run a command on the machine of whoever opens the export. `safe_cell`
puts a quote (`'`) in front of such a cell, which spreadsheets show as text.

What counts as a trigger, decided here for every export:
- the first character is `=`, `+`, `-`, `@`, a tab or a carriage return;
- or the first character that is not whitespace is one of `=`, `+`, `-`, `@`, because some
  spreadsheets trim leading spaces (or line breaks) before reading a formula;
- the full-width forms U+FF1D, U+FF0B, U+FF0D and U+FF20 count as well: an input method or a
  spreadsheet's normalisation can turn them into the ASCII signs, and a guard too many costs
  only a quote that the import removes again.
Numbers such as `-5` or `+31 20 555 0101` are guarded like anything else: one rule, no guessing
which text a spreadsheet would read as a number.

The guard is undone exactly by `unguard`, so an export read back in (the contacts CSV import)
changes nothing: a value is guarded when it is a trigger or when it is quotes followed by a
trigger (`'=1` becomes `''=1`), so a value that really starts with a quote and a trigger
survives too, and `unguard` removes one quote only where `safe_cell` would have added it. A
value starting with a quote and anything else (`'tis`) is written and read as it is.

XLSX exports (openpyxl) need the same guard: openpyxl writes a string starting with `=` as a
formula. Call `safe_cell` on every string cell there as well, so CSV and XLSX agree.
"""

from __future__ import annotations

from collections.abc import Iterable

GUARD = "'"
_TRIGGERS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")  # ASCII and full-width = + - @
_FIRST_ONLY = frozenset("\t\r")  # some spreadsheets drop these, then read what follows


def is_trigger(text: str) -> bool:
    """Would a spreadsheet read this cell as a formula?"""
    if not text:
        return False
    if text[0] in _FIRST_ONLY or text[0] in _TRIGGERS:
        return True
    return text.lstrip()[:1] in _TRIGGERS


def needs_guard(text: str) -> bool:
    """A trigger, or quotes followed by a trigger (guarded too, so `unguard` is exact)."""
    return is_trigger(text.lstrip(GUARD)) if text.startswith(GUARD) else is_trigger(text)


def safe_cell(text: str) -> str:
    """The cell as it goes into a spreadsheet file."""
    return GUARD + text if needs_guard(text) else text


def safe_row(cells: Iterable[str]) -> list[str]:
    return [safe_cell(cell) for cell in cells]


def unguard(text: str) -> str:
    """The value `safe_cell` was given, from what it wrote (for imports of our exports)."""
    if text.startswith(GUARD) and needs_guard(text[1:]):
        return text[1:]
    return text
