"""Template injection and markup injection through partner values, and the sandbox under
hostile template source.

Every payload goes into every slot kind of the fixture template (and into the partner profile)
and is rendered through every channel. Either validation refuses it, naming the slot, or it
comes out as inert text: never evaluated, never markup.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from jinja2.exceptions import SecurityError

from content.lint import lint
from content.render import Renderer, RenderError
from content.sanitize import text_content
from content.spec import EmailVariant, Slot, SlotKind, TemplateContent
from content.validate import resolve_values, validate_values
from tests.content.test_content_render import RENDER_CONTEXT
from tests.content.test_content_validate import context, good_values, kitchen_sink

PAYLOADS = [
    # Jinja2 / server-side template injection
    "{{ 7*7 }}",
    "{{7*'7'}}",
    "{{ config }}",
    "{{ config.items() }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__.os.popen('id').read() }}",
    "{{ namespace.__init__.__globals__.os.popen('id').read() }}",
    "{% for x in range(10**9) %}x{% endfor %}",
    "{{ lipsum.__globals__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__.__builtins__ }}",
    "{{ request.application.__globals__.__builtins__.__import__('os').popen('id').read() }}",
    "{% raw %}{{ 7*7 }}{% endraw %}",
    "{%- set x = 1 -%}{{ x }}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "{{ slots }}",
    "{{ unsubscribe_url }}",
    # format-string and other engines' syntax
    "{0.__class__}",
    "{0.__class__.__init__.__globals__}",
    "%(x)s %s %n",
    "${7*7}",
    "#{7*7}",
    "<%= 7*7 %>",
    "*{7*7}",
    "@(7*7)",
    # known Jinja2 sandbox escapes (fixed in 3.1.x; payloads stay inert as data regardless)
    "{{ '{0.__class__}'.format('') }}",  # CVE-2016-10745 str.format
    "{{ '{0.__init__.__globals__}'.format_map({'0': cycler}) }}",  # CVE-2019-10906
    "{{ ({}).__class__.__base__.__subclasses__() }}",
    "{% set f = 'x'.format %}{{ f('{0.__class__}', 1) }}",  # CVE-2024-56326 indirect
    "{{ '{0.__class__}'|attr('format')('') }}",  # CVE-2025-27516 |attr format
    # HTML / JavaScript
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "<svg/onload=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    "javascript:alert(1)",
    "<iframe src=https://evil.example></iframe>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    "<style>@import 'https://evil.example/x.css';</style>",
    '<div style="position:fixed;top:0;left:0;width:100%;height:100%">overlay</div>',
    "<!--<script>alert(1)</script>-->",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "</style><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
]

MALICIOUS_TAGS = {"script", "iframe", "svg", "object", "embed", "math", "style", "link", "base"}
TEMPLATE_TAGS = {"html", "head", "meta", "body", "div", "h1", "p", "a", "span", "strong", "style"}


class _Tags(HTMLParser):
    """Tags, attributes and text of an HTML document, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


def style_elements(html: str) -> int:
    return sum(1 for tag, _ in parse(html).tags if tag == "style")


def assert_inert_html(html: str, template_tags: set[str], styles: int) -> None:
    assert "<script" not in html.lower()
    parsed = parse(html)
    assert style_elements(html) == styles  # only the template's own
    for tag, attrs in parsed.tags:
        assert tag in template_tags or tag not in MALICIOUS_TAGS, tag
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            if name in ("href", "src", "style") and value:
                assert "javascript:" not in value.lower(), (tag, name, value)
                assert "evil.example" not in value, (tag, name, value)


def assert_not_evaluated(payload: str, outputs: list[str]) -> None:
    joined = "\n".join(outputs)
    if "7*7" in payload or "7*'7'" in payload:
        assert "49" not in joined and "7777777" not in joined
    assert "uid=" not in joined
    assert "<class '" not in joined and "&lt;class '" not in joined
    assert "<function" not in joined and "&lt;function" not in joined
    assert "<module" not in joined and "&lt;module" not in joined
    assert "Environment" not in joined


SLOTS = [s.name for s in kitchen_sink().slots]


def render_all(values: dict[str, Any], partner: dict[str, Any] | None = None) -> list[str]:
    content = kitchen_sink()
    ctx = context(**({"partner": partner} if partner else {}))
    assert validate_values(content, values, ctx) == []
    resolved = resolve_values(content, values, ctx)
    render_ctx = {**RENDER_CONTEXT, "partner": ctx.partner}
    renderer = Renderer()
    email = renderer.render_email("inj", content, resolved, render_ctx)
    print_html = renderer.render_print_html("inj", content, resolved, render_ctx, "A4")
    assert_inert_html(email.html, TEMPLATE_TAGS, 1)
    assert_inert_html(print_html, TEMPLATE_TAGS, 3)  # page margin, template CSS, page size
    return [email.subject, email.preheader, email.html, email.text, print_html]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("slot", SLOTS)
def test_payload_in_slot(slot: str, payload: str) -> None:
    content = kitchen_sink()
    declared = content.slot(slot)
    assert declared is not None
    values = {**good_values(), slot: payload}
    errors = validate_values(content, values, context())
    if errors:  # refused, in words that name the slot
        label = declared.label["en"]
        assert any(e.field == slot and e.message.startswith(f"{label}: ") for e in errors)
        return
    assert slot in {"headline", "offer", "intro", "opening_hours"}, (slot, payload)
    outputs = render_all(values)
    assert_not_evaluated(payload, outputs)
    if declared.kind == SlotKind.rich_text:
        return  # sanitised markup; its text is checked in test_rich_text_is_sanitised
    # Accepted plain text comes out as the same text: in the text parts verbatim, and as the
    # text (not markup) of the HTML parts.
    subject, preheader, html, text, print_html = outputs
    assert payload in text or payload in subject or payload in preheader
    assert payload in "".join(parse(html).text)
    assert payload in "".join(parse(print_html).text)


def test_every_payload_is_accepted_by_the_plain_text_slot() -> None:
    """So the render side really sees every payload (validation is not the only defence)."""
    refused = [
        p
        for p in PAYLOADS
        if validate_values(kitchen_sink(), {**good_values(), "headline": p}, context())
    ]
    assert refused == []


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_in_partner_profile(payload: str) -> None:
    """Profile fields are partner-typed too; they reach templates as data like slot values."""
    partner = {**context().partner, "name": payload, "city": payload, "opening_hours": payload}
    values = {k: v for k, v in good_values().items() if k != "opening_hours"}
    outputs = render_all(values, partner)
    assert_not_evaluated(payload, outputs)
    assert payload in outputs[0]  # subject: "{headline} - {club_name}"
    assert payload in "".join(parse(outputs[2]).text)


@pytest.mark.parametrize("payload", [p for p in PAYLOADS if "<" in p])
def test_rich_text_is_sanitised(payload: str) -> None:
    html = render_all({**good_values(), "intro": payload})[2]
    assert_inert_html(html, TEMPLATE_TAGS, 1)
    assert "rel=" not in html or 'rel="noopener noreferrer"' in html


def test_rich_text_keeps_safe_formatting() -> None:
    intro = (
        "<h2>Hi</h2><p>Come <strong>early</strong>, <em>bring</em> <u>friends</u>"
        "<script>alert(1)</script></p><ul><li>one</li></ul>"
        '<a href="https://northwind.example/x" onclick="x()">more</a>'
    )
    _, _, html, text, _ = render_all({**good_values(), "intro": intro})
    assert "<h2>Hi</h2>" in html
    assert "<strong>early</strong>" in html and "<em>bring</em>" in html
    assert "<ul><li>one</li></ul>" in html
    assert '<a href="https://northwind.example/x" rel="noopener noreferrer">more</a>' in html
    assert "alert" not in html and "onclick" not in html
    assert "- one" in text and "more (https://northwind.example/x)" in text
    assert text_content(intro) == "Hi\nCome early, bring friends\none\nmore"


def hostile(source: str) -> TemplateContent:
    return TemplateContent(
        slots=[
            Slot(
                name="legal_footer",
                kind=SlotKind.text,
                locked=True,
                label={"en": "Legal"},
                default={"en": "Legal"},
            ),
        ],
        email=EmailVariant(
            subject="Hi",
            html=source + "{{ slots.legal_footer }}{{ unsubscribe_url }}",
            text="{{ unsubscribe_url }}",
        ),
    )


@pytest.mark.parametrize(
    ("source", "lint_code"),
    [
        ("{{ ''.__class__.__mro__ }}", "private_attribute"),
        ("{{ range.__globals__ }}", "private_attribute"),
        ("{{ cycler.__init__.__globals__.os.popen('id').read() }}", "disallowed_name"),
        ("{{ self._TemplateReference__context }}", "disallowed_name"),
        ("{{ ''['__class__'] }}", "private_attribute"),
        ("{{ ''|attr('__class__') }}", "disallowed_filter"),
        ("{{ '{0.__class__}'.format('') }}", None),
        ("{{ '{0.__class__}'|attr('format')('') }}", "disallowed_filter"),
        ("{% set f = '{0.__class__}'.format %}{{ f('') }}", None),
        ("{{ recipient.update({'x': 1}) }}", None),
    ],
)
def test_hostile_template_source_is_stopped(source: str, lint_code: str | None) -> None:
    """HQ source is trusted more than partner values, but the sandbox must still hold."""
    content = hostile(source)
    with pytest.raises(RenderError) as err:
        Renderer().render_email("hostile", content, {"legal_footer": "Legal"}, RENDER_CONTEXT)
    assert isinstance(err.value.__cause__, SecurityError), err.value
    codes = {i.code for i in lint(content)}
    if lint_code:
        assert lint_code in codes
