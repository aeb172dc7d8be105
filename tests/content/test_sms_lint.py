"""Lint and declarations of the SMS variant and fragments."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from content.lint import lint
from content.spec import SmsVariant, TemplateContent
from tests.content.test_content_lint import codes, make


def with_sms(text: str, **update: object) -> TemplateContent:
    return make().model_copy(update={"sms": SmsVariant(text=text), **update})


def test_clean_sms_variant_with_fragments() -> None:
    content = with_sms(
        "{{ fragments.hi }} {{ slots.headline }}",
        fragments={"hi": {"en": "Hi"}},
    )
    assert lint(content) == []


def test_sms_part_is_linted_with_part_and_line() -> None:
    content = with_sms("{{ slots.headline }}\n{{ slots.nope }} {{ secret }}\n{% include 'x' %}")
    assert codes(content) == [
        ("sms.text", 2, "undeclared_variable"),
        ("sms.text", 2, "unknown_slot"),
        ("sms.text", 3, "disallowed_tag"),
    ]


def test_sms_syntax_error() -> None:
    assert codes(with_sms("{{ slots.headline }}\n{% if %}")) == [("sms.text", 2, "syntax_error")]


def test_a_slot_used_only_in_the_sms_counts_as_used() -> None:
    content = make(text="{{ slots.legal_footer }} {{ unsubscribe_url }}", subject="Hi")
    content = content.model_copy(
        update={
            "email": content.email.model_copy(
                update={
                    "html": content.email.html.replace(  # type: ignore[union-attr]
                        "{{ slots.headline }}", ""
                    )
                }
            )
        }
    )
    assert ("slots", None, "unused_slot") in codes(content)
    assert ("slots", None, "unused_slot") not in codes(
        content.model_copy(update={"sms": SmsVariant(text="{{ slots.headline }}")})
    )


def test_unknown_fragment_is_named_with_part_and_line() -> None:
    content = with_sms("x\n{{ fragments.cta }}", fragments={"hi": {"en": "Hi"}})
    found = lint(content)
    assert [(i.part, i.line, i.code) for i in found] == [("sms.text", 2, "unknown_fragment")]
    assert found[0].message == 'fragments.cta: no fragment named "cta" (fragments: hi).'
    html = make(html=make().email.html + "{{ fragments['nope'] }}")  # type: ignore[union-attr]
    assert ("email.html", 5, "unknown_fragment") in codes(html)


def test_fragment_per_locale_of_the_template() -> None:
    content = with_sms(
        "{{ fragments.hi }}",
        locales=["en", "de", "nl"],
        fragments={"hi": {"en": "Hi", "de": "Hallo", "nl": " "}},
    )
    found = lint(content)
    assert [(i.part, i.code) for i in found] == [("fragments", "fragment_missing_locale")]
    assert found[0].message == 'fragment "hi" has no text in nl; the template speaks en, de, nl.'


def test_fragment_locale_outside_the_template() -> None:
    content = with_sms("{{ fragments.hi }}", fragments={"hi": {"en": "Hi", "nl": "Hoi"}})
    found = lint(content)
    assert [(i.part, i.code) for i in found] == [("fragments", "fragment_unknown_locale")]
    assert "nl, which is not among the template's locales (en)" in found[0].message


@pytest.mark.parametrize(
    ("fragments", "message"),
    [
        ({"Bad-Name": {"en": "x"}}, "names are lower-case letters"),
        ({"ok": {"fr": "x"}}, "locale 'fr' is not among en, de, nl"),
        ({"ok": {"en": "x" * 5001}}, "at most 5000 characters"),
        ({f"f{i}": {"en": "x"} for i in range(51)}, "at most 50 fragments"),
    ],
)
def test_fragment_declarations(fragments: dict[str, dict[str, str]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TemplateContent(fragments=fragments)
