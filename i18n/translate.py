"""gettext for code and templates, in the current person's language (i18n.context).

Messages are English source text with named placeholders: `_("Send by %(date)s", date=d)`.
Keeping placeholders named lets a translation move them; the catalogue test checks that every
translation keeps the same ones."""

from __future__ import annotations

from typing import Any

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


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined (a constant, an enum label);
    translated later, where it is shown, with gettext(message)."""
    return message
