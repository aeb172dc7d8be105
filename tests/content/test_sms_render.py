"""The SMS variant and fragments: plain text from the sandbox, partner text as data, HQ's
fragments in the recipient's language in every channel."""

from __future__ import annotations

from typing import Any

import pytest

from content.render import (
    Renderer,
    RenderError,
    fragments_for,
    recipient_locale,
    render_email,
    render_print_html,
    render_sms,
)
from content.spec import EmailVariant, PrintVariant, Slot, SlotKind, SmsVariant, TemplateContent
from content.validate import resolve_values, validate_values
from tests.content.test_content_injection import PAYLOADS, assert_not_evaluated
from tests.content.test_content_render import RENDER_CONTEXT
from tests.content.test_content_validate import context

FRAGMENTS = {
    "greeting": {"en": "Hi", "de": "Hallo", "nl": "Hoi"},
    "cta": {"en": "Book now", "de": "Jetzt buchen", "nl": "Boek nu"},
}


def open_day(
    sms: str = "{{ fragments.greeting }} {{ recipient.first_name }}! {{ slots.headline }}"
    " {{ slots.intro }} {{ fragments.cta }}: {{ slots.url }}",
) -> TemplateContent:
    return TemplateContent(
        locales=["en", "de", "nl"],
        fragments=FRAGMENTS,
        slots=[
            Slot(name="headline", kind=SlotKind.text, label={"en": "Headline"}, per_locale=True),
            Slot(name="intro", kind=SlotKind.rich_text, label={"en": "Intro"}),
            Slot(name="url", kind=SlotKind.url, label={"en": "Link"}),
        ],
        email=EmailVariant(
            subject="{{ fragments.greeting }}: {{ slots.headline }}",
            html="<p>{{ fragments.greeting }} {{ slots.intro }}</p>{{ unsubscribe_url }}",
            text="{{ fragments.greeting }} {{ slots.intro }} {{ unsubscribe_url }}",
        ),
        sms=SmsVariant(text=sms),
        print=PrintVariant(html="<h1>{{ fragments.cta }}</h1>"),
    )


VALUES: dict[str, Any] = {
    "headline": "Open day",
    "intro": "<p>Bring a <strong>friend</strong>.</p>",
    "url": "https://northwind.example/open",
}


def render_ctx(locale: str = "en") -> dict[str, Any]:
    return {**RENDER_CONTEXT, "recipient": {**RENDER_CONTEXT["recipient"], "locale": locale}}


def sms_for(
    values: dict[str, Any], locale: str = "en", content: TemplateContent | None = None
) -> str:
    content = content or open_day()
    ctx = context(locale=locale)
    assert validate_values(content, values, ctx) == []
    return render_sms(
        f"sms-{locale}", content, resolve_values(content, values, ctx), render_ctx(locale)
    )


def test_sms_is_plain_text_with_fragments_in_the_recipients_language() -> None:
    assert sms_for(VALUES) == (
        "Hi Alex! Open day Bring a friend. Book now: https://northwind.example/open"
    )
    assert sms_for(VALUES, "de").startswith("Hallo Alex! Open day")
    assert sms_for(VALUES, "nl").endswith("Boek nu: https://northwind.example/open")


def test_sms_is_stripped_of_surrounding_whitespace() -> None:
    assert sms_for(VALUES, content=open_day("\n\n  {{ slots.headline }}  \n")) == "Open day"


def test_fragments_in_email_and_print_too() -> None:
    content = open_day()
    ctx = context(locale="de")
    resolved = resolve_values(content, VALUES, ctx)
    email = render_email("e-de", content, resolved, render_ctx("de"))
    assert email.subject == "Hallo: Open day"
    assert "<p>Hallo </p><p>Bring a <strong>friend</strong>.</p>" in email.html
    assert email.text.startswith("Hallo Bring a friend.")
    html = render_print_html("p-nl", content, resolved, render_ctx("nl"), "A4")
    assert "<h1>Boek nu</h1>" in html


def test_fragments_are_escaped_in_html_parts() -> None:
    content = open_day().model_copy(
        update={"fragments": {**FRAGMENTS, "greeting": {k: "<b>Hi</b>" for k in FRAGMENTS["cta"]}}}
    )
    email = render_email("esc", content, resolve_values(content, VALUES, context()), render_ctx())
    assert "&lt;b&gt;Hi&lt;/b&gt;" in email.html and "<b>Hi</b>" not in email.html


def test_recipient_locale_falls_back_to_the_templates_first() -> None:
    content = open_day()
    assert recipient_locale(content, render_ctx("de-AT")) == "de"
    assert recipient_locale(content, render_ctx("fr")) == "en"
    assert recipient_locale(content, RENDER_CONTEXT) == "en"  # no locale: the first
    nl_first = content.model_copy(update={"locales": ["nl", "en"]})
    assert recipient_locale(nl_first, render_ctx("fr")) == "nl"
    assert fragments_for(nl_first, "fr") == {"greeting": "Hoi", "cta": "Boek nu"}
    partial = content.model_copy(update={"locales": ["de"], "fragments": {"x": {"en": "E"}}})
    assert fragments_for(partial, "de") == {"x": "E"}  # then English
    assert fragments_for(content.model_copy(update={"fragments": {"x": {}}}), "de") == {"x": ""}


def test_rich_text_and_markup_are_text_in_an_sms() -> None:
    values = {**VALUES, "headline": "<b>Big</b> & <i>bold</i>"}
    text = sms_for(values)
    assert "<b>Big</b> & <i>bold</i>" in text  # what the partner typed, as text
    assert "&amp;" not in text and "<strong>" not in text and "<p>" not in text


@pytest.mark.parametrize("payload", PAYLOADS)
def test_template_injection_in_partner_values_stays_literal(payload: str) -> None:
    values = {**VALUES, "headline": payload}
    text = sms_for(values)
    assert_not_evaluated(payload, [text])
    assert payload in text


@pytest.mark.parametrize("payload", ["{{ 7*7 }}", "{% for x in range(3) %}x{% endfor %}"])
def test_injection_in_a_per_language_value_stays_literal(payload: str) -> None:
    text = sms_for({**VALUES, "headline": {"en": payload, "de": "x"}})
    assert payload in text and "49" not in text and "xxx" not in text


def test_script_in_rich_text_is_dropped_not_run() -> None:
    text = sms_for({**VALUES, "intro": "<p>Hi<script>alert(1)</script></p>"})
    assert "<script>" not in text and "alert(1)" not in text


def test_no_sms_variant() -> None:
    content = open_day().model_copy(update={"sms": None})
    with pytest.raises(ValueError, match="no SMS variant"):
        render_sms("none", content, {}, render_ctx())


def test_sms_render_errors_name_the_part_and_line() -> None:
    content = open_day("line one\n{{ slots.headline.nope() }}")
    with pytest.raises(RenderError) as err:
        sms_for(VALUES, content=content)
    assert err.value.part == "sms.text" and err.value.line == 2
    with pytest.raises(RenderError) as syntax:
        sms_for(VALUES, content=open_day("{% if %}"))
    assert syntax.value.part == "sms.text"


def test_sms_render_has_the_same_limits() -> None:
    content = open_day("{% for i in range(100000) %}{{ i }}{% endfor %}")
    resolved = resolve_values(content, VALUES, context())
    with pytest.raises(RenderError) as err:
        Renderer(max_output=1_000).render_sms("big", content, resolved, render_ctx())
    assert err.value.part == "sms.text"


def test_sms_compiled_once_and_cached() -> None:
    renderer = Renderer()
    content = open_day()
    resolved = resolve_values(content, VALUES, context())
    renderer.render_sms("k", content, resolved, render_ctx())
    cached = len(renderer.cache)
    renderer.render_sms("k", content, resolved, render_ctx("de"))
    assert len(renderer.cache) == cached
