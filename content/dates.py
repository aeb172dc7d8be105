"""What a template sees for a date slot: the date as the recipient reads it.

A partner types a date as YYYY-MM-DD (content.validate checks it), and an email must never show
that ISO form to a member. A LocalDate *is* the date written out in the render's language
(Babel's full format: "zaterdag 16 januari 2027", "Samstag, 16. Januar 2027", "Saturday 16
January 2027"), so `{{ slots.event_date }}` reads right in every template written before
dates were localised. The other forms are plain attributes (no methods of our own, so the
sandbox exposes nothing new): `.long` ("16 januari 2027"), `.medium` ("16 jan 2027") for an
SMS where every character counts, `.short`, and `.iso` for a link or a calendar file.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from babel.dates import format_date

from i18n.catalogues import language_of


def babel_locale(locale: str) -> str:
    """A template language as Babel's locale; English dates the European way (i18n.formats)."""
    lang = language_of(locale)
    return "en_GB" if lang == "en" else lang


class LocalDate(str):
    """A date slot's value in one language; the text is the full form."""

    iso: str
    long: str
    medium: str
    short: str

    locale: str  # "" for text that is no date: every form is the text itself

    def __new__(cls, iso: str, locale: str) -> LocalDate:
        if not locale:
            obj = super().__new__(cls, iso)
            obj.iso = obj.long = obj.medium = obj.short = iso
            obj.locale = ""
            return obj
        day = date.fromisoformat(iso)
        where = babel_locale(locale)
        obj = super().__new__(cls, format_date(day, "full", locale=where))
        obj.iso = day.isoformat()
        obj.long = format_date(day, "long", locale=where)
        obj.medium = format_date(day, "medium", locale=where)
        obj.short = format_date(day, "short", locale=where)
        obj.locale = locale
        return obj

    @property
    def full(self) -> str:
        return str.__str__(self)

    def __getnewargs__(self) -> tuple[Any, ...]:
        """Copies and pickles rebuild the same date in the same language."""
        return (self.iso, self.locale)


def local_date(value: Any, locale: str) -> LocalDate:
    """`value` as a LocalDate in `locale` when it is an ISO date; anything else (blank, or not
    a date: validation refused it already) as its own text in every form, so `.medium` of an
    optional date left empty renders as nothing rather than failing the send."""
    if isinstance(value, date):
        value = value.isoformat()
    text = "" if value is None else str(value)
    try:
        return LocalDate(text.strip(), locale)
    except ValueError:
        return LocalDate(text, "")


__all__ = ["LocalDate", "babel_locale", "local_date"]
