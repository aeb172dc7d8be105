"""Every message the portal and its emails show has a German and a Dutch translation, with the
same placeholders; a message added in English only fails here, naming where it is."""

from __future__ import annotations

import re

import pytest

from i18n.catalogues import LANGUAGES, SOURCE_LANGUAGE, merged_catalog, po_files, translations
from i18n.context import speaking
from i18n.extract import messages
from i18n.translate import gettext, ngettext

TRANSLATED = [lang for lang in LANGUAGES if lang != SOURCE_LANGUAGE]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated(language: str) -> None:
    catalog = merged_catalog(language)
    missing = sorted(
        {
            f"{found.where}: {found.message!r}"
            for found in messages()
            if (found.message if isinstance(found.message, str) else found.message[0])
            not in catalog
        }
    )
    assert not missing, f"{len(missing)} messages lack a {language} translation:\n" + "\n".join(
        missing
    )


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_the_placeholders(language: str) -> None:
    wrong = []
    for message in merged_catalog(language):
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set().union(*(_placeholders(i) for i in ids))
        for text in strings:
            # A singular form may leave out %(num)s ("one message"), never add one.
            got = _placeholders(text)
            if got - wanted or (wanted - {"num"}) - got:
                wrong.append(f"{ids[0]!r} -> {text!r}")
    assert not wrong, "\n".join(wrong)


def test_every_language_has_its_catalogue_files() -> None:
    for language in TRANSLATED:
        assert po_files(language), language


def test_messages_follow_the_current_language() -> None:
    assert gettext("Sign out") == "Sign out"
    with speaking("nl"):
        assert gettext("Sign out") == "Afmelden"
        with speaking("de"):
            assert gettext("Sign out") == "Abmelden"
        assert gettext("Sign out") == "Afmelden"
    with speaking("fr"):  # not spoken by the portal: English
        assert gettext("Sign out") == "Sign out"
    assert gettext("Sign out") == "Sign out"


def test_unknown_messages_stay_english_and_placeholders_fill_in() -> None:
    with speaking("de"):
        assert gettext("No such message %(x)s", x="<b>") == "No such message <b>"
        assert ngettext("%(num)d contact", "%(num)d contacts", 3) == "3 contacts"
    assert translations("xx").gettext("Sign out") == "Sign out"


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_message_reads_the_same_in_every_file(language: str) -> None:
    """Areas keep their own files; a message two of them share must not read two ways (the
    first file would silently win)."""
    from babel.messages.pofile import read_po

    seen: dict[str, tuple[str, object]] = {}
    differ = []
    for path in po_files(language):
        with path.open("rb") as fh:
            for message in read_po(fh, locale=language):
                if not message.id or not message.string:
                    continue
                key = message.id if isinstance(message.id, str) else message.id[0]
                first = seen.setdefault(key, (path.name, message.string))
                if first[1] != message.string:
                    differ.append(
                        f"{key!r}: {first[0]} {first[1]!r} / {path.name} {message.string!r}"
                    )
    assert not differ, "\n".join(differ)
