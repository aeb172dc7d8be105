"""What services say (core.said) reads in the reader's language where it is shown, and stays
English everywhere else: as a str, in JSON, in an f-string."""

from __future__ import annotations

import json
import pickle
import re

import pytest

from core.errors import RESOURCES, NotFound
from core.said import Said, said, said_of
from i18n.context import speaking
from i18n.extract import ROOT
from i18n.translate import translated


def test_said_is_the_english_text_until_translated() -> None:
    text = said("%(resource)s %(ident)s not found", resource=RESOURCES["campaign"], ident=12)
    assert text == "campaign 12 not found"
    assert json.dumps({"detail": text}) == '{"detail": "campaign 12 not found"}'
    assert translated(text) == "campaign 12 not found"
    with speaking("de"):
        assert translated(text) == "Kampagne 12 nicht gefunden"
    with speaking("nl"):
        assert translated(text) == "campagne 12 niet gevonden"
    assert pickle.loads(pickle.dumps(text)).values == text.values


def test_values_are_data_unless_said() -> None:
    """A partner's text that happens to be a catalogue message is not translated."""
    text = said("%(resource)s %(ident)s not found", resource="campaign", ident="{{7*7}}<b>")
    with speaking("nl"):
        assert translated(text) == "campaign {{7*7}}<b> niet gevonden"


def test_plain_text_is_looked_up_and_unknown_text_stays() -> None:
    with speaking("de"):
        assert translated("Not found") == "Nicht gefunden"
        assert translated("campaign 12 not found") == "campaign 12 not found"
        assert translated("") == ""


def test_an_exceptions_said_message_survives() -> None:
    err = ValueError(said("campaign"))
    assert isinstance(said_of(err), Said)
    assert not isinstance(said_of(ValueError("x", 1)), Said)


def test_not_found_names_its_resource_in_the_readers_words() -> None:
    err = NotFound("partner campaign", 7)
    assert err.detail == "partner campaign 7 not found"
    with speaking("de"):
        assert translated(err.detail) == "Partnerkampagne 7 nicht gefunden"


NOT_FOUND = re.compile(r'NotFound\(\s*"([^"]+)"')


@pytest.mark.parametrize("top", ["services", "api", "approvals", "printing", "content"])
def test_every_resource_a_service_names_has_its_noun(top: str) -> None:
    named = {
        found
        for path in (ROOT / top).rglob("*.py")
        for found in NOT_FOUND.findall(path.read_text(encoding="utf-8"))
    }
    assert named - RESOURCES.keys() == set()
