"""Date slots render in the recipient's language (Babel), never ISO; the value is data: a
value that is not a date (refused by validation, but rendered anyway) stays escaped text, and
the LocalDate exposes no more to a template than its forms."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

from content.dates import LocalDate
from content.render import RenderError, render_email
from content.spec import EmailVariant, Slot, SlotKind, TemplateContent
from tests.content.test_demo_sms import render_ctx

PAYLOAD = "{{ 7*7 }}<script>alert(1)</script>"


def _content(html: str) -> TemplateContent:
    return TemplateContent(
        locales=["en", "de", "nl"],
        slots=[Slot(name="day", kind=SlotKind.date, label={"en": "Day"})],
        email=EmailVariant(
            subject="{{ slots.day }}",
            html=html + "{{ unsubscribe_url }}",
            text="{{ slots.day.medium }} {{ slots.day.iso }} {{ unsubscribe_url }}",
        ),
    )


@pytest.mark.parametrize(
    ("locale", "full", "medium"),
    [
        ("nl", "zaterdag 16 januari 2027", "16 jan 2027"),
        ("de", "Samstag, 16. Januar 2027", "16.01.2027"),
        ("en", "Saturday, 16 January 2027", "16 Jan 2027"),
        ("nl-BE", "zaterdag 16 januari 2027", "16 jan 2027"),
    ],
)
def test_a_date_slot_reads_in_the_recipients_language(locale: str, full: str, medium: str) -> None:
    content = _content("<p>{{ slots.day }} {{ slots.day.long }}</p>")
    email = render_email(
        f"dates-{locale}", content, {"day": "2027-01-16"}, render_ctx(locale), inline_css=False
    )
    assert email.subject == full
    assert f"<p>{full} " in email.html
    assert email.text.startswith(f"{medium} 2027-01-16 ")  # .iso for links and calendars


def test_a_value_that_is_not_a_date_stays_escaped_text() -> None:
    content = _content("<p>{{ slots.day }}</p>")
    values: dict[str, Any] = {"day": PAYLOAD}
    email = render_email("dates-bad", content, values, render_ctx("nl"), inline_css=False)
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html
    assert "{{ 7*7 }}" in email.html and "49" not in email.html


def test_templates_reach_no_internals_of_a_date() -> None:
    content = _content("{{ slots.day.__class__.__mro__ }}")
    with pytest.raises(RenderError):
        render_email("dates-internals", content, {"day": "2027-01-16"}, render_ctx("en"))


def test_a_local_date_survives_copies_and_pickles() -> None:
    day = LocalDate("2027-01-16", "de")
    for again in (copy.deepcopy(day), pickle.loads(pickle.dumps(day))):
        assert (again, again.long, again.iso) == (day, day.long, day.iso)
