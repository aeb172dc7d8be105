"""The demo "Open day" SMS: HQ's fragments and the partner's offer in each language, one
GSM-7 segment with typical values and the opt-out line."""

from __future__ import annotations

from typing import Any

import pytest

from content.lint import lint
from content.render import render_email, render_sms
from content.sms_segments import measure
from content.sms_text import with_opt_out
from content.validate import resolve_values, validate_values
from scripts.demo.templates import open_day
from tests.content.test_content_validate import PARTNER, context

VALUES: dict[str, Any] = {"event_date": "2027-05-08"}


def render_ctx(locale: str, first_name: str = "Alexandra") -> dict[str, Any]:
    return {
        "partner": PARTNER,
        "recipient": {
            "first_name": first_name,
            "last_name": "S",
            "email": "a@x.example",
            "locale": locale,
        },
        "unsubscribe_url": "https://brandrelay.example/u/t",
        "preferences_url": "https://brandrelay.example/p/t",
        "brand": {"name": "Northwind", "palette": []},
        "campaign": {"name": "Open day"},
    }


def sms(locale: str, values: dict[str, Any] | None = None) -> str:
    content = open_day()
    given = values or VALUES
    ctx = context(locale=locale, window_start=None, window_end=None)
    assert validate_values(content, given, ctx) == []
    return with_opt_out(
        render_sms("demo", content, resolve_values(content, given, ctx), render_ctx(locale)),
        locale,
    )


def test_open_day_is_lint_clean_with_its_sms_and_fragments() -> None:
    assert lint(open_day()) == []
    fixed = {"greeting", "call_to_action", "footer", "when", "unsubscribe", "preferences"}
    assert fixed <= set(open_day().fragments)
    assert all(set(t) == {"en", "de", "nl"} for t in open_day().fragments.values())


@pytest.mark.parametrize(
    ("locale", "start", "end"),
    [
        ("en", "Hi Alexandra! Join on the day", "Book now: https://northwind.example/open-day"),
        (
            "de",
            "Hallo Alexandra! Melden Sie sich",
            "Jetzt buchen: https://northwind.example/open-day",
        ),
        ("nl", "Hoi Alexandra! Word lid op de dag", "Boek nu: https://northwind.example/open-day"),
    ],
)
def test_one_gsm7_segment_in_every_language(locale: str, start: str, end: str) -> None:
    text = sms(locale)
    assert text.startswith(start) and text.split("\n")[0].endswith(end)
    size = measure(text)
    assert (size.encoding, size.segments) == ("GSM-7", 1), (text, size)


def test_a_long_offer_makes_two() -> None:
    offer = "Join on the day: the first month is free, and bring a friend who trains free too"
    size = measure(sms("en", {**VALUES, "offer": {"en": offer}}))
    assert size.segments == 2


def test_the_email_speaks_the_fragments_too() -> None:
    content = open_day()
    ctx = context(locale="nl", window_start=None, window_end=None)
    email = render_email(
        "demo-mail", content, resolve_values(content, VALUES, ctx), render_ctx("nl")
    )
    assert "Hoi Alexandra," in email.text and "Tot ziens in de club!" in email.text
    assert "Word lid op de dag" in email.text
    assert "<p>Hoi Alexandra,</p>" in email.html
