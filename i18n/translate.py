"""gettext for code and templates, in the current person's language (i18n.context).

Messages are English source text with named placeholders: `_("Send by %(date)s", date=d)`.
Keeping placeholders named lets a translation move them; the catalogue test checks that every
translation keeps the same ones."""

from __future__ import annotations

from typing import Any

from core.said import Listing, Said, Word
from i18n.catalogues import language_of, translations
from i18n.context import current_locale


def gettext(message: str, /, **values: Any) -> str:
    text = translations(language_of(current_locale())).gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, /, **values: Any) -> str:
    text = translations(language_of(current_locale())).ngettext(singular, plural, n)
    return text % {"num": n, **values}


def ngettext_unformatted(singular: str, plural: str, n: int, /) -> str:
    """For Jinja's newstyle gettext, which fills in `num` and every other value itself."""
    return translations(language_of(current_locale())).ngettext(singular, plural, n)


_ = gettext


def _value(value: Any) -> Any:
    if isinstance(value, Said):
        return translated(value)
    if isinstance(value, Word):  # a state label inside a sentence: "is goedgekeurd"
        word = gettext(value.message)
        return word[:1].lower() + word[1:]
    if isinstance(value, Listing):
        return ", ".join(_value(item) for item in value)
    return value


def translated(text: str) -> str:
    """What a service said (core.said.Said), in the current language: its message from the
    catalogue with the values filled in, values that are `Said` themselves translated too.
    Plain text is looked up as a message (a fixed detail such as "Your roles do not allow this
    page."); text the catalogue does not know, and every other value, stays as it is."""
    if isinstance(text, Said):
        values = {k: _value(v) for k, v in text.values.items()}
        found = translations(language_of(current_locale())).gettext(text.message)
        return found % values if values else found
    return translations(language_of(current_locale())).gettext(text) if text else text


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined (a constant, an enum label);
    translated later, where it is shown, with gettext(message)."""
    return message
