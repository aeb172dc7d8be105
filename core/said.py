"""Words a service says that a person may read: English text that remembers its catalogue
message and values, so each place that shows it decides the language.

A `Said` is a `str` holding the English sentence: the API, logs and the audit trail use it as
it is (English, unchanged), while the portal and emails show `i18n.translate.translated(it)`,
the catalogue's message in the reader's language with the values filled in. Values that are
themselves `Said` (a resource's noun, a condition's words) are translated too; any other value
(a name, an id, what a partner typed) is data and goes in as it is.

`said("...")` is a gettext keyword for the catalogue (i18n/extract.py), like `_` and `N_`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import WrapValidator


class Said(str):
    """English text with its message id and values (see the module)."""

    message: str
    values: Mapping[str, Any]

    def __new__(cls, message: str, values: Mapping[str, Any] | None = None) -> Said:
        values = dict(values or {})
        text = super().__new__(cls, message % values if values else message)
        text.message = message
        text.values = values
        return text

    def __reduce__(self) -> Any:  # pickles (and copies) keep the message and values
        return (Said, (self.message, dict(self.values)))


class Listing(tuple[str, ...]):
    """Several values as one, written "a, b, c" (each item translated where it is a `Said`)."""

    def __str__(self) -> str:
        return ", ".join(self)


class Word(str):
    """A stored value ("approved") that reads as a catalogue message where it is translated
    (its state label, "Approved" / "Genehmigt"); as a str it is the value, for the API."""

    message: str

    def __new__(cls, value: str, message: str) -> Word:
        word = super().__new__(cls, value)
        word.message = message
        return word

    def __reduce__(self) -> Any:
        return (Word, (str(self), self.message))


def said(message: str, /, **values: Any) -> Said:
    """`said("%(what)s %(ident)s not found", what=..., ident=12)`: named placeholders only."""
    return Said(message, values)


def said_of(err: BaseException) -> str:
    """An exception's message, keeping a `Said` (str(err) would drop it to plain English)."""
    if len(err.args) == 1 and isinstance(err.args[0], Said):
        return err.args[0]
    return str(err)


def _keep(value: Any, check: Callable[[Any], str]) -> str:
    """Validated as a str; a `Said` stays one (pydantic would copy it to a plain str)."""
    checked = check(value)
    return value if isinstance(value, Said) else checked


# A str field of a response model that may hold what a service said: the same schema and JSON
# as `str`, and the portal can still translate it (models.contact_schemas.ImportRow.reasons).
SaidText = Annotated[str, WrapValidator(_keep)]
