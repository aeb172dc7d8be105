"""The message catalogues: every `i18n/locales/<language>/*.po` file, merged per language.

Several files per language (one per area of the portal) so that work on different areas never
edits the same file; a message may appear in more than one (the first translation read wins,
files in name order). The .po files are read at start-up with Babel: no compile step, no .mo
files to forget. English is the source language and needs no catalogue."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).parent / "locales"
SOURCE_LANGUAGE = "en"
# The portal's languages, in the order the settings page offers them.
LANGUAGES: tuple[str, ...] = ("en", "de", "nl")
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch", "nl": "Nederlands"}


def language_of(locale: str | None) -> str:
    """ "nl-BE", "nl_NL" -> "nl"; anything the portal does not speak -> English."""
    lang = (locale or "").replace("_", "-").split("-")[0].lower()
    return lang if lang in LANGUAGES else SOURCE_LANGUAGE


def po_files(language: str) -> list[Path]:
    return sorted((LOCALES_DIR / language).glob("*.po"))


def merged_catalog(language: str) -> Catalog:
    """All of a language's files as one catalogue (fuzzy and empty entries left out)."""
    merged = Catalog(locale=language)
    for path in po_files(language):
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=language)
        for message in catalog:
            if not message.id or message.fuzzy or not message.string:
                continue
            if message.id in merged:
                continue
            merged[message.id] = message
    return merged


def _one_or_other(n: float | Decimal) -> int:
    """English, German and Dutch share the plural rule: one for exactly 1, other otherwise."""
    return int(n != 1)


@cache
def translations(language: str) -> NullTranslations:
    if language == SOURCE_LANGUAGE or language not in LANGUAGES:
        return NullTranslations()
    found = Translations()
    table: dict[Any, Any] = found._catalog
    for message in merged_catalog(language):
        if isinstance(message.id, tuple):
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            for index, text in enumerate(forms):
                table[(message.id[0], index)] = text
        else:
            table[message.id] = message.string
    found.plural = _one_or_other
    return found
