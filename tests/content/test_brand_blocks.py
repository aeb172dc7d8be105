"""Brand blocks: validated fields, fixed escaped markup, rendering in every channel, and the
lint's knowledge of `blocks` (no database)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from content.blocks import (
    MAX_LINKS,
    FooterBlock,
    HeaderBlock,
    RenderedBlocks,
    parse_snapshot,
    render_blocks,
    render_snapshot,
)
from content.lint import lint
from content.render import Renderer
from content.spec import EmailVariant, PrintVariant, TemplateContent

INJECTION = "{{ 7*7 }} <script>alert(1)</script> <b>bold</b> & more"


def footer(**fields: Any) -> dict[str, Any]:
    return {"legal_text": "Northwind Fitness GmbH", **fields}


def snap(
    header: dict[str, Any] | None = None, foot: dict[str, Any] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if header is not None:
        out["header"] = {"version": 1, "content": header}
    if foot is not None:
        out["footer"] = {"version": 1, "content": foot}
    return out


def error_fields(err: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in err.errors()}


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)//https://x.example",
        "http://instagram.com/northwind",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/path",
        "https://",
        "https://user:secret@evil.example/",
        "https://exa mple.com/",
        "instagram.com/northwind",
    ],
)
def test_links_must_be_absolute_https(url: str) -> None:
    with pytest.raises(ValidationError) as err:
        FooterBlock.model_validate(footer(links=[{"label": "Instagram", "url": url}]))
    assert error_fields(err.value) == {"links.0.url"}


def test_at_most_eight_links() -> None:
    link = {"label": "Site", "url": "https://northwind.example"}
    assert len(FooterBlock.model_validate(footer(links=[link] * MAX_LINKS)).links) == MAX_LINKS
    with pytest.raises(ValidationError) as err:
        FooterBlock.model_validate(footer(links=[link] * (MAX_LINKS + 1)))
    assert error_fields(err.value) == {"links"}


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"legal_text": ""}, "legal_text"),
        ({"legal_text": "x" * 2001}, "legal_text"),
        ({"legal_text": "hidden\x00text"}, "legal_text"),
        ({"address": "line one\nline two"}, "address"),
        ({"links": [{"label": "", "url": "https://a.example"}]}, "links.0.label"),
        ({"links": [{"label": "A\nB", "url": "https://a.example"}]}, "links.0.label"),
        ({"links": [{"label": "A", "url": "https://a.example", "x": 1}]}, "links.0.x"),
        ({"script": "<script>"}, "script"),
    ],
)
def test_footer_fields_are_checked(fields: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as err:
        FooterBlock.model_validate(footer(**fields))
    assert where in error_fields(err.value)


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"brand_name": ""}, "brand_name"),
        ({"brand_name": "Two\nlines"}, "brand_name"),
        ({"brand_name": "N", "logo_asset": "javascript:alert(1)"}, "logo_asset"),
        ({"brand_name": "N", "logo_asset": "https://cdn.example/logo.png"}, "logo_asset"),
        ({"brand_name": "N", "tagline": "t" * 201}, "tagline"),
    ],
)
def test_header_fields_are_checked(fields: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as err:
        HeaderBlock.model_validate(fields)
    assert where in error_fields(err.value)


def test_legal_text_is_text_in_html_and_in_plain_text() -> None:
    blocks = render_blocks(snap(foot=footer(legal_text=f"Line one\n{INJECTION}")))
    html, text = str(blocks.html["footer"]), blocks.text["footer"]
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&amp; more" in html
    assert "{{ 7*7 }}" in html and "49" not in html
    assert "Line one<br>{{ 7*7 }}" in html  # line breaks kept
    assert text == f"Line one\n{INJECTION}"  # text parts are not HTML: kept as typed


def test_footer_links_and_address() -> None:
    links = [
        {"label": "Instagram", "url": "https://instagram.com/nw?a=1&b=2"},
        {"label": 'Say "hi"', "url": 'https://x.example/"onmouseover="alert(1)'},
    ]
    blocks = render_blocks(snap(foot=footer(address="Hauptstrasse 1, Berlin", links=links)))
    html = str(blocks.html["footer"])
    assert '<a href="https://instagram.com/nw?a=1&amp;b=2"' in html
    assert '"onmouseover="' not in html and "&#34;onmouseover=&#34;" in html
    assert "Say &#34;hi&#34;" in html
    assert "Hauptstrasse 1, Berlin" in html
    assert blocks.text["footer"].splitlines() == [
        "Northwind Fitness GmbH",
        "Hauptstrasse 1, Berlin",
        "Instagram: https://instagram.com/nw?a=1&b=2",
        'Say "hi": https://x.example/"onmouseover="alert(1)',
    ]


def test_header_shows_the_logo_when_it_has_a_url_else_the_name() -> None:
    header = {"brand_name": 'Northwind "Fitness" <b>', "logo_asset": "ast_logo0001"}
    seen: list[str] = []

    def image_url(uid: str) -> str | None:
        seen.append(uid)
        return 'https://img.example/ast_logo0001.png?x="1"'

    with_logo = str(render_blocks(snap(header=header), image_url).html["header"])
    assert seen == ["ast_logo0001"]
    assert '<img src="https://img.example/ast_logo0001.png?x=&#34;1&#34;"' in with_logo
    assert 'alt="Northwind &#34;Fitness&#34; &lt;b&gt;"' in with_logo

    without = render_blocks(snap(header=header)).html["header"]
    assert "<img" not in without and "Northwind &#34;Fitness&#34; &lt;b&gt;" in without
    no_logo = render_blocks(snap(header={"brand_name": "N", "tagline": "Together"}), image_url)
    assert "<img" not in no_logo.html["header"] and len(seen) == 1
    assert no_logo.text["header"] == "N\nTogether"


def test_a_snapshot_entry_that_no_longer_validates_is_left_out() -> None:
    broken = {"header": {"version": 3, "content": {"brand_name": ""}}, "footer": "nonsense"}
    assert parse_snapshot(broken) == {}
    assert render_blocks(broken) == RenderedBlocks()


def _content() -> TemplateContent:
    return TemplateContent(
        locales=["en"],
        email=EmailVariant(
            subject="Hello",
            html="<html><body>{{ blocks.header }}<p>Body</p>{{ blocks.footer }}</body></html>",
            text="{{ blocks.header }}\n\nBody\n\n{{ blocks.footer }}\n",
        ),
        print=PrintVariant(
            html="<div>{{ blocks.header }}<p>Flyer</p>{{ blocks.footer }}</div>", sizes=["A5"]
        ),
    )


CONTEXT: dict[str, Any] = {
    "partner": {},
    "recipient": {},
    "unsubscribe_url": "https://x.example/u/1",
    "brand": {"name": "Northwind", "palette": []},
    "campaign": {"name": "C"},
}


def test_templates_render_blocks_in_email_html_text_and_print() -> None:
    blocks = render_blocks(
        snap(
            header={"brand_name": "Northwind Fitness", "tagline": "Together"},
            foot=footer(
                legal_text=INJECTION, links=[{"label": "Instagram", "url": "https://ig.example"}]
            ),
        )
    )
    renderer = Renderer()
    email = renderer.render_email("k", _content(), {}, {**CONTEXT, "blocks": blocks})
    assert 'class="brand-header"' in email.html and 'class="brand-footer"' in email.html
    assert "<strong" in email.html and "Northwind Fitness" in email.html
    assert "&lt;script&gt;" in email.html and "<script>" not in email.html
    assert "49" not in email.html
    assert email.text.startswith("Northwind Fitness\nTogether\n\nBody\n\n")
    assert "Instagram: https://ig.example" in email.text
    assert "<table" not in email.text and "brand-footer" not in email.text

    page = renderer.render_print_html("k", _content(), {}, {**CONTEXT, "blocks": blocks}, "A5")
    assert 'class="brand-header"' in page and "&lt;script&gt;" in page
    assert '<a href="https://ig.example"' in page


def test_without_blocks_a_template_renders_them_as_nothing() -> None:
    email = Renderer().render_email("k", _content(), {}, CONTEXT)
    assert "<p>Body</p>" in email.html and "brand-" not in email.html
    assert email.text.strip() == "Body"


def test_blocks_must_come_rendered() -> None:
    """Raw dicts would reach the HTML unescaped as data the template could misuse."""
    with pytest.raises(ValueError, match="blocks"):
        Renderer().render_email("k", _content(), {}, {**CONTEXT, "blocks": {"header": "<b>"}})


NAME_CODES = {"undeclared_variable", "unknown_attribute", "disallowed_name"}


def test_lint_knows_blocks_and_their_two_names() -> None:
    assert [i for i in lint(_content()) if i.code in NAME_CODES] == []
    content = _content().model_copy(
        update={"email": EmailVariant(subject="S", html="{{ blocks.sidebar }}", text="t")}
    )
    [issue] = [i for i in lint(content) if i.code in NAME_CODES]
    assert issue.code == "unknown_attribute" and "blocks.sidebar" in issue.message
    assert "footer, header" in issue.message


def test_remembered_renders_follow_the_content_and_the_logo_url() -> None:
    header = {"brand_name": "Northwind", "logo_asset": "ast_logo0001"}
    first = snap(header=header, foot=footer())
    assert render_snapshot(first) == render_blocks(first)
    a = render_snapshot(first, lambda uid: f"https://a.example/{uid}.png")
    b = render_snapshot(first, lambda uid: f"https://b.example/{uid}.png")
    assert "https://a.example/ast_logo0001.png" in a.html["header"]
    assert "https://b.example/ast_logo0001.png" in b.html["header"]
    changed = snap(header=header, foot=footer(legal_text="Changed text"))
    assert "Changed text" in render_snapshot(changed).html["footer"]
    assert "Changed text" not in render_snapshot(first).html["footer"]
