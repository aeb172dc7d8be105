"""Rendering: CSS inlining, parts, locales, the compiled-template cache, limits and PDF."""

from __future__ import annotations

import http.server
import io
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pypdf import PdfReader

from content.render import (
    MAX_PDF_HTML,
    RenderedEmail,
    Renderer,
    RenderError,
    render_email,
    render_pdf,
    render_print_html,
)
from content.spec import EmailVariant, PrintVariant, Slot, SlotKind, TemplateContent
from content.validate import resolve_values, validate_values
from tests.content.test_content_validate import PARTNER, context, good_values, kitchen_sink

# The environment's WeasyPrint lacks HarfBuzz-Subset; that is packaging, not these tests.
pytestmark = pytest.mark.filterwarnings("ignore:HarfBuzz-Subset:DeprecationWarning")

RENDER_CONTEXT: dict[str, Any] = {
    "partner": PARTNER,
    "recipient": {"first_name": "Alex", "last_name": "Sample", "email": "a@x.example"},
    "unsubscribe_url": "https://brandrelay.example/u/tok123",
    "brand": {"name": "Northwind", "palette": ["#0B3D91"]},
    "campaign": {"name": "Open day"},
}


def email_for(values: dict[str, Any], locale: str = "en", key: str = "v1") -> RenderedEmail:
    content = kitchen_sink()
    ctx = context(locale=locale)
    assert validate_values(content, values, ctx) == []
    return render_email(
        f"{key}-{locale}", content, resolve_values(content, values, ctx), RENDER_CONTEXT
    )


def tiny(html: str, text: str = "{{ unsubscribe_url }}") -> TemplateContent:
    return TemplateContent(
        slots=[Slot(name="headline", kind=SlotKind.text, label={"en": "Headline"})],
        email=EmailVariant(subject="{{ slots.headline }}", html=html, text=text),
    )


def test_css_is_inlined_and_media_queries_kept() -> None:
    html = email_for(good_values()).html
    assert '<p class="offer" style="' in html
    assert "font-weight: bold" in html
    assert "@media (max-width: 480px)" in html  # <style> kept for responsive clients


def test_parts_subject_preheader_text() -> None:
    values = {**good_values(), "headline": "Open day\nBcc: x@evil.example"}
    email = email_for(values)
    assert email.subject == "Open day Bcc: x@evil.example - Northwind Fitness Amsterdam"
    assert "\n" not in email.subject  # one line: no header injection
    assert email.preheader == "Join on the day"
    assert 'class="preheader"' in email.html and "display:none" in email.html
    assert email.html.index("Join on the day") < email.html.index("<h1")  # first in body
    assert "Hi Alex," in email.text
    assert "Unsubscribe: https://brandrelay.example/u/tok123" in email.text
    assert 'href="https://brandrelay.example/u/tok123"' in email.html
    # Rich text: markup in HTML, plain text in the text part.
    assert "Bring a <strong>friend</strong>." in email.html
    assert "Bring a friend." in email.text and "<strong>" not in email.text


def test_per_locale_defaults() -> None:
    values = {k: v for k, v in good_values().items() if k != "offer"}
    assert "Erster Monat gratis" in email_for(values, "de").html
    assert "Northwind Fitness GmbH." in email_for(values, "de").text
    nl = email_for(values, "nl")  # no nl defaults: English
    assert "First month free" in nl.html and "Northwind Fitness GmbH, Berlin." in nl.html


def test_compiled_templates_are_cached() -> None:
    renderer = Renderer(cache_size=4)
    content = kitchen_sink()
    resolved = resolve_values(content, good_values(), context())
    renderer.render_email("v7-en", content, resolved, RENDER_CONTEXT)
    assert content.email is not None
    compiled = renderer.compiled("v7-en", "email.html", content.email.html)
    renderer.render_email("v7-en", content, resolved, RENDER_CONTEXT)
    assert renderer.compiled("v7-en", "email.html", content.email.html) is compiled
    assert len(renderer.cache) == 4  # subject, preheader, html, text
    # Same key, different source (a bug upstream): recompiled, never the stale template.
    changed = renderer.compiled("v7-en", "email.html", content.email.html + "<!-- x -->")
    assert changed is not compiled
    # Bounded: older entries go.
    for i in range(10):
        renderer.compiled(f"other-{i}", "email.text", "x")
    assert len(renderer.cache) == 4


def test_output_size_limit() -> None:
    renderer = Renderer(max_output=10_000)
    content = tiny("{% for i in range(100000) %}{{ slots.headline }}{% endfor %}")
    start = time.perf_counter()
    with pytest.raises(RenderError, match="larger than 10000 characters") as err:
        renderer.render_email("big", content, {"headline": "x" * 50}, RENDER_CONTEXT)
    assert time.perf_counter() - start < 1
    assert err.value.part == "email.html"


def test_time_limit_stops_silent_nested_loops() -> None:
    renderer = Renderer(time_limit=0.2)
    loops = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    start = time.perf_counter()
    with pytest.raises(RenderError, match=r"longer than 0\.2 seconds"):
        renderer.render_email("slow", tiny(loops), {"headline": "x"}, RENDER_CONTEXT)
    assert time.perf_counter() - start < 1.5


def test_huge_range_does_not_hang() -> None:
    start = time.perf_counter()
    with pytest.raises(RenderError, match="Range too big"):
        render_email(
            "range", tiny("{% for x in range(10**9) %}.{% endfor %}"), {"headline": "x"}, {}
        )
    assert time.perf_counter() - start < 1


def test_recursion_is_a_render_error() -> None:
    content = tiny("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}")
    with pytest.raises(RenderError, match="call each other more than 50 deep"):
        render_email("rec", content, {"headline": "x"}, {})


def test_undefined_names_are_errors_not_blanks() -> None:
    with pytest.raises(RenderError, match="UndefinedError"):
        render_email("undef", tiny("{{ slots.nope }}"), {"headline": "x"}, {})


def test_context_names_are_fixed() -> None:
    with pytest.raises(ValueError, match="config"):
        render_email("ctx", tiny("x"), {"headline": "x"}, {"config": {"SECRET": "s"}})


def test_missing_variant() -> None:
    with pytest.raises(ValueError, match="no print variant"):
        render_print_html("p", tiny("x"), {"headline": "x"}, {}, "A4")


def print_pdf(size: str, values: dict[str, Any]) -> tuple[str, PdfReader]:
    content = kitchen_sink()
    ctx = context(locale="nl")
    assert validate_values(content, values, ctx) == []
    resolved = resolve_values(content, values, ctx)
    html = render_print_html("flyer-nl", content, resolved, RENDER_CONTEXT, size)
    return html, PdfReader(io.BytesIO(render_pdf(html)))


@pytest.mark.parametrize(("size", "width_mm"), [("A5", 148), ("A4", 210)])
def test_pdf_carries_the_partner_values(size: str, width_mm: int) -> None:
    html, pdf = print_pdf(size, {**good_values(), "headline": "Kom langs!"})
    assert f"size: {size}" in html
    text = "".join(page.extract_text() for page in pdf.pages)
    assert "Kom langs!" in text
    assert "Amsterdam" in text  # the partner's city, from the profile
    width_pt = float(pdf.pages[0].mediabox.width)
    assert abs(width_pt - width_mm / 25.4 * 72) < 1


def test_print_size_must_be_declared() -> None:
    content = kitchen_sink()
    assert content.print is not None
    content.print.sizes = ["A5"]
    resolved = resolve_values(content, good_values(), context())
    with pytest.raises(ValueError, match="A5"):
        render_print_html("p5", content, resolved, RENDER_CONTEXT, "A4")


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        _Recorder.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_pdf_fetches_nothing(http_server: int) -> None:
    _Recorder.hits.clear()
    base = f"http://127.0.0.1:{http_server}"
    content = TemplateContent(
        slots=[],
        print=PrintVariant(
            html=f'<link rel="stylesheet" href="{base}/x.css"><img src="{base}/x.png">'
            '<img src="file:///etc/hostname"><p>Offline</p>'
            '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">',
            css=f"body {{ background: url({base}/bg.png); }}",
        ),
    )
    html = render_print_html("offline", content, {}, {}, "A4")
    pdf = PdfReader(io.BytesIO(render_pdf(html)))
    assert "Offline" in pdf.pages[0].extract_text()
    assert _Recorder.hits == []


def test_pdf_of_a_long_document_is_refused_before_layout() -> None:
    """WeasyPrint's memory grows with the document, outside the render's limits."""
    body = "<p>" + "x" * MAX_PDF_HTML + "</p>"
    content = TemplateContent(slots=[], print=PrintVariant(html=body))
    html = render_print_html("long", content, {}, {}, "A4")
    with pytest.raises(RenderError, match=r"a PDF is made of at most 150,000") as err:
        render_pdf(html)
    assert err.value.part == "print.html"


def test_print_css_cannot_close_the_style_element() -> None:
    content = TemplateContent(
        slots=[], print=PrintVariant(html="<p>x</p>", css="</style><script>alert(1)</script>")
    )
    html = render_print_html("css", content, {}, {}, "A4")
    assert "</style><script>" not in html
