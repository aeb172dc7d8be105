"""The opt-out line and link shortening on a rendered SMS."""

from __future__ import annotations

import pytest

from content.sms_text import find_links, opt_out_line, shorten_links, with_opt_out


@pytest.mark.parametrize(
    ("locale", "line"),
    [
        ("en", "STOP to opt out"),
        ("nl", "STOP om af te melden"),
        ("de", "STOP zum Abmelden"),
        ("de-AT", "STOP zum Abmelden"),
        ("nl_BE", "STOP om af te melden"),
        ("fr", "STOP to opt out"),
        ("", "STOP to opt out"),
    ],
)
def test_opt_out_line_per_language(locale: str, line: str) -> None:
    assert opt_out_line(locale) == line
    assert with_opt_out("Open day Saturday!  \n", locale) == f"Open day Saturday!\n{line}"


def test_an_existing_opt_out_is_not_doubled() -> None:
    text = "Open day Saturday. Reply STOP to unsubscribe"
    assert with_opt_out(text, "de") == text
    assert with_opt_out("Open day\nSTOP om af te melden", "nl").count("STOP") == 1
    assert with_opt_out(with_opt_out("Hi", "en"), "en") == "Hi\nSTOP to opt out"


def test_stop_inside_a_word_or_lower_case_is_not_an_opt_out() -> None:
    assert with_opt_out("Bus STOPS here", "en").endswith("\nSTOP to opt out")
    assert with_opt_out("nonstop fun", "en").endswith("\nSTOP to opt out")


def test_empty_text_gets_only_the_line() -> None:
    assert with_opt_out("", "nl") == "STOP om af te melden"


def test_shorten_links_replaces_each_url() -> None:
    calls: list[str] = []

    def shorten(url: str) -> str:
        calls.append(url)
        return f"https://br.example/r/{len(calls)}"

    text = (
        "Open day: https://northwind.example/open?x=1&y=2. "
        "Book (http://northwind.example/book) or https://northwind.example/open?x=1&y=2!"
    )
    assert shorten_links(text, shorten) == (
        "Open day: https://br.example/r/1. Book (https://br.example/r/2) or https://br.example/r/1!"
    )
    assert calls == ["https://northwind.example/open?x=1&y=2", "http://northwind.example/book"]


def test_links_with_brackets_and_no_links() -> None:
    assert find_links("see https://en.example/wiki/A_(b), ok") == ["https://en.example/wiki/A_(b)"]
    assert find_links("HTTPS://X.EXAMPLE/a") == ["HTTPS://X.EXAMPLE/a"]
    assert find_links("no links, just https:// and ftp://x.example") == []
    assert shorten_links("https:// alone", lambda u: "X") == "https:// alone"
    assert shorten_links("plain words", lambda u: "X") == "plain words"
