"""lint: one case per rule, with the part, line and code it reports."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from content.lint import LintIssue, lint
from content.spec import EmailVariant, PrintVariant, Slot, SlotKind, TemplateContent
from scripts.demo.templates import flyer_a5, open_day, spring_draft
from tests.content.test_content_validate import kitchen_sink

HTML_OK = """<html><body>
<h1>{{ slots.headline }}</h1>
<p>{{ slots.legal_footer }}</p>
<a href="{{ unsubscribe_url }}">Unsubscribe</a>
</body></html>"""
TEXT_OK = "{{ slots.headline }}\n{{ slots.legal_footer }}\nUnsubscribe: {{ unsubscribe_url }}"


def make(
    html: str = HTML_OK,
    text: str = TEXT_OK,
    subject: str = "{{ slots.headline }}",
    print_html: str | None = None,
    extra_slots: tuple[Slot, ...] = (),
    footer_name: str = "legal_footer",
) -> TemplateContent:
    slots = [
        Slot(name="headline", kind=SlotKind.text, label={"en": "Headline"}),
        Slot(
            name=footer_name,
            kind=SlotKind.text,
            locked=True,
            label={"en": "Legal"},
            default={"en": "Northwind GmbH"},
        ),
        *extra_slots,
    ]
    return TemplateContent(
        slots=slots,
        email=EmailVariant(subject=subject, html=html, text=text),
        print=PrintVariant(html=print_html) if print_html else None,
    )


def codes(content: TemplateContent) -> list[tuple[str, int | None, str]]:
    return [(i.part, i.line, i.code) for i in lint(content)]


@pytest.mark.parametrize("builder", [open_day, flyer_a5, spring_draft, kitchen_sink])
def test_demo_and_fixture_templates_are_clean(builder: Callable[[], TemplateContent]) -> None:
    assert lint(builder()) == []


def test_clean() -> None:
    assert lint(make()) == []


CASES: dict[str, tuple[TemplateContent, list[tuple[str, int | None, str]]]] = {
    "syntax_error": (
        make(html=HTML_OK.replace("<h1>{{ slots.headline }}", "<h1>{{ slots.headline + }}")),
        [("email.html", 2, "syntax_error")],
    ),
    "unknown_filter": (
        make(text=TEXT_OK + "\n{{ slots.headline|shout }}"),
        [("email.text", 4, "syntax_error")],
    ),
    "unknown_slot_attribute": (
        make(html=HTML_OK.replace("<h1>", "<h1>{{ slots.subtitle }}")),
        [("email.html", 2, "unknown_slot")],
    ),
    "unknown_slot_item": (
        make(text=TEXT_OK + '\n{{ slots["subtitle"] }}'),
        [("email.text", 4, "unknown_slot")],
    ),
    "undeclared_variable": (
        make(html=HTML_OK.replace("<p>", "<p>{{ config.SECRET }}")),
        [("email.html", 3, "undeclared_variable")],
    ),
    "unknown_attribute": (
        make(subject="{{ slots.headline }} {{ partner.iban }}"),
        [("email.subject", 1, "unknown_attribute")],
    ),
    "unused_slot": (
        make(extra_slots=(Slot(name="teaser", kind=SlotKind.text, label={"en": "Teaser"}),)),
        [("slots", None, "unused_slot")],
    ),
    "missing_unsubscribe_html": (
        make(html=HTML_OK.replace("{{ unsubscribe_url }}", "#")),
        [("email.html", None, "missing_unsubscribe")],
    ),
    "missing_unsubscribe_text": (
        make(text=TEXT_OK.replace("{{ unsubscribe_url }}", "")),
        [("email.text", None, "missing_unsubscribe")],
    ),
    "missing_legal_footer": (
        make(html=HTML_OK.replace("{{ slots.legal_footer }}", "")),
        [("email.html", None, "missing_legal_footer")],
    ),
    "legal_footer_must_be_locked": (
        make(
            footer_name="small_print",
            text=TEXT_OK.replace("legal_footer", "small_print"),
            html=HTML_OK.replace("legal_footer", "small_print"),
        ),
        [("email.html", None, "missing_legal_footer")],
    ),
    "include": (
        make(html=HTML_OK.replace("<h1>", "{% include 'header.html' %}<h1>")),
        [("email.html", 2, "disallowed_tag")],
    ),
    "extends": (
        make(html="{% extends 'base.html' %}" + HTML_OK),
        [("email.html", 1, "disallowed_tag")],
    ),
    "import": (
        make(text="{% import 'macros' as m %}\n" + TEXT_OK),
        [("email.text", 1, "disallowed_tag")],
    ),
    "from_import": (
        make(text="{% from 'macros' import x %}\n" + TEXT_OK),
        [("email.text", 1, "disallowed_tag")],
    ),
    "underscore_attribute": (
        make(html=HTML_OK.replace("<p>", "<p>{{ slots.headline.__class__ }}")),
        [("email.html", 3, "private_attribute")],
    ),
    "underscore_item": (
        make(html=HTML_OK.replace("<p>", "<p>{{ recipient['_secret'] }}")),
        [("email.html", 3, "private_attribute")],
    ),
    "attr_filter": (
        make(html=HTML_OK.replace("<p>", "<p>{{ slots.headline|attr('upper') }}")),
        [("email.html", 3, "disallowed_filter")],
    ),
    "self": (
        make(html=HTML_OK.replace("<p>", "<p>{{ self }}")),
        [("email.html", 3, "disallowed_name")],
    ),
    "cycler": (
        make(html=HTML_OK.replace("<p>", "<p>{{ cycler('a', 'b').next() }}")),
        [("email.html", 3, "disallowed_name")],
    ),
    "namespace": (
        make(html=HTML_OK.replace("<p>", "<p>{% set ns = namespace(n=0) %}")),
        [("email.html", 3, "disallowed_name")],
    ),
    "lipsum": (
        make(html=HTML_OK.replace("<p>", "<p>{{ lipsum() }}")),
        [("email.html", 3, "disallowed_name")],
    ),
    "large_range": (
        make(html=HTML_OK.replace("<p>", "<p>{% for i in range(100000) %}.{% endfor %}")),
        [("email.html", 3, "disallowed_name")],
    ),
    "computed_range": (
        make(html=HTML_OK.replace("<p>", "<p>{% for i in range(10**9) %}.{% endfor %}")),
        [("email.html", 3, "disallowed_name")],
    ),
    "print_part": (
        make(print_html="<h1>{{ slots.headline }}</h1>\n<p>{{ slots.nope }}</p>"),
        [("print.html", 2, "unknown_slot")],
    ),
    "huge_percent_width": (
        make(html=HTML_OK.replace("<p>", "<p>{{ '%999999999s' % slots.headline }}")),
        [("email.html", 3, "huge_width")],
    ),
    "width_from_an_argument": (
        make(html=HTML_OK.replace("<p>", "<p>{{ '%*s'|format(9, slots.headline) }}")),
        [("email.html", 3, "huge_width")],
    ),
    "huge_format_method_width": (
        make(text=TEXT_OK + "{{ '{:>99999}'.format(slots.headline) }}"),
        [("email.text", 3, "huge_width")],
    ),
    "huge_method_width": (
        make(html=HTML_OK.replace("<p>", "<p>{{ slots.headline.ljust(99999999) }}")),
        [("email.html", 3, "huge_width")],
    ),
    "huge_filter_width": (
        make(html=HTML_OK.replace("<p>", "<p>{{ slots.headline|center(width=5000) }}")),
        [("email.html", 3, "huge_width")],
    ),
    "huge_batch": (
        make(html=HTML_OK.replace("<p>", "<p>{{ [1]|batch(999999999, 0)|list }}")),
        [("email.html", 3, "huge_width")],
    ),
    "large_repeat": (
        make(html=HTML_OK.replace("<p>", "<p>{% set a = 'x' * 1000000 %}")),
        [("email.html", 3, "large_repeat")],
    ),
    "large_power": (
        make(subject="{{ slots.headline }}{{ 10 ** 100000 }}"),
        [("email.subject", 1, "large_number")],
    ),
    "recursive_macro": (
        make(html=HTML_OK.replace("<p>", "<p>{% macro m(n) %}{{ m(n) }}{% endmacro %}")),
        [("email.html", 3, "recursive_macro")],
    ),
    "macros_calling_each_other": (
        make(
            html=HTML_OK.replace(
                "<p>",
                "<p>{% macro a() %}{{ b() }}{% endmacro %}\n"
                "{% macro b() %}{% call a() %}{% endcall %}{% endmacro %}",
            )
        ),
        [("email.html", 3, "recursive_macro"), ("email.html", 4, "recursive_macro")],
    ),
    "nested_brackets": (
        make(html=HTML_OK.replace("<p>", "<p>{{ " + "(" * 10000 + "1" + ")" * 10000 + " }}")),
        [("email.html", 3, "too_deep")],
    ),
    "nested_blocks": (
        make(text="{% if 1 %}\n" * 1000 + "{% endif %}" * 1000 + TEXT_OK),
        [("email.text", 51, "too_deep")],
    ),
    "nested_loops": (
        make(text="{% for i in [1] %}\n" * 17 + "{% endfor %}" * 17 + TEXT_OK),
        [("email.text", 17, "too_deep")],
    ),
    "long_filter_chain": (
        make(html=HTML_OK.replace("<p>", "<p>{{ slots.headline" + "|e" * 1000 + " }}")),
        [("email.html", 3, "too_deep")],
    ),
    "locked_without_default": (
        make(
            extra_slots=(
                Slot(name="notice", kind=SlotKind.text, locked=True, label={"en": "Notice"}),
            ),
            text=TEXT_OK + "{{ slots.notice }}",
        ),
        [("slots", None, "locked_without_default")],
    ),
}


@pytest.mark.parametrize("rule", list(CASES))
def test_rule(rule: str) -> None:
    content, expected = CASES[rule]
    assert codes(content) == expected


def test_allowed_constructs_are_not_findings() -> None:
    html = HTML_OK.replace(
        "<p>",
        "{% set greeting = 'Hi' %}{% macro b(x) %}<b>{{ x }}{{ caller() }}</b>{% endmacro %}"
        "{% call b(greeting) %}!{% endcall %}"
        "{% for i in range(3) %}{{ loop.index }}{{ i }}{% endfor %}"
        "{% for k, v in partner.items() %}{{ k }}{% endfor %}"
        "{{ brand.name }} {{ campaign.name }} {{ recipient.first_name|default('friend') }}"
        "{{ '-' * 40 }}{{ '%05d' % 3 }}{{ '{:>10}'.format(brand.name) }}{{ '%-20s'|format('x') }}"
        "{{ brand.name.center(40) }}{{ brand.name|center(80) }}{{ 2 ** 10 }}"
        "{% macro item(x) %}{{ x }}{% endmacro %}{% macro list(xs) %}{% for x in xs %}"
        "{{ item(x) }}{% endfor %}{% endmacro %}{{ list([1, 2]) }}<p>",
    )
    assert lint(make(html=html)) == []


def test_findings_sorted_and_messages_readable() -> None:
    content = make(
        html=HTML_OK.replace("{{ unsubscribe_url }}", "{{ x }}").replace("<h1>", "<h1>{{ y }}"),
        text="{{ slots.nope }}",
    )
    issues = lint(content)
    assert issues == sorted(issues, key=lambda i: (i.part, i.line or 0, i.code, i.message))
    assert [i.part for i in issues] == ["email.html"] * 3 + ["email.text"] * 2
    assert all(isinstance(i, LintIssue) and i.message for i in issues)
    assert any('"y" is not defined' in i.message for i in issues)


def test_issue_converts_for_the_api() -> None:
    issue = lint(make(text="{{ slots.nope }}"))[0]
    assert vars(issue) == {
        "part": "email.text",
        "line": None,
        "code": "missing_unsubscribe",
        "message": "every email needs an unsubscribe link: add {{ unsubscribe_url }}.",
    }


def test_no_variant() -> None:
    assert codes(TemplateContent()) == [("content", None, "no_variant")]
