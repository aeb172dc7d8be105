"""Template rendering for email, SMS and print: sandboxed, size- and time-limited, cached.

Template source (HQ) runs in content.sandbox (Jinja2's ImmutableSandboxedEnvironment plus
limits); partner values only ever arrive as data in `slots`, never as template source, so
`{{ 7*7 }}` typed by a partner stays text in every channel. HTML parts autoescape; plain-text
parts (subject, preheader, text) do not, but get rich text as plain text. Limits are enforced
without threads or signals: every loop iteration, call, intercepted operator and built value
checks a per-render budget (content.budget) before it allocates, and output is consumed chunk
by chunk from `Template.generate()` so a runaway template stops early. Every failure is a
RenderError naming the part and, where it has one, the template line.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, cast

import css_inline
from jinja2 import Template, TemplateSyntaxError
from markupsafe import Markup, escape

from content.blocks import EMPTY, RenderedBlocks
from content.budget import (
    DEFAULT_MAX_OUTPUT,
    DEFAULT_MAX_TOTAL,
    DEFAULT_TIME_LIMIT,
    MAX_CALL_DEPTH,
    MAX_FILTER_WIDTH,
    MAX_INT_BITS,
    MAX_ITEMS,
    MAX_LOOP_NESTING,
    MAX_NESTING,
    Limits,
    RenderError,
)
from content.dates import local_date
from content.images import ImageRef
from content.sandbox import Sandbox
from content.sanitize import safe_markup, text_content
from content.spec import SlotKind, TemplateContent

__all__ = [
    "DEFAULT_MAX_OUTPUT",
    "DEFAULT_MAX_TOTAL",
    "DEFAULT_TIME_LIMIT",
    "MAX_CALL_DEPTH",
    "MAX_FILTER_WIDTH",
    "MAX_INT_BITS",
    "MAX_ITEMS",
    "MAX_LOOP_NESTING",
    "MAX_NESTING",
    "MAX_PDF_HTML",
    "RenderError",
    "RenderedEmail",
    "Renderer",
    "fragments_for",
    "recipient_locale",
    "render_email",
    "render_pdf",
    "render_print_html",
    "render_sms",
]

Part = Literal[
    "email.subject", "email.preheader", "email.html", "email.text", "print.html", "sms.text"
]
PARTS: tuple[Part, ...] = (
    "email.subject",
    "email.preheader",
    "email.html",
    "email.text",
    "print.html",
    "sms.text",
)
HTML_PARTS = frozenset({"email.html", "print.html"})
# Variables a template may use besides `slots` (see content.lint.TOP_LEVEL).
CONTEXT_NAMES = frozenset(
    {"partner", "recipient", "unsubscribe_url", "preferences_url", "brand", "campaign", "blocks"}
)
PAGE_SIZES = ("A4", "A5")
DEFAULT_CACHE_SIZE = 512  # compiled templates
MAX_PDF_HTML = 150_000  # characters of print document WeasyPrint lays out

PREHEADER_STYLE = (
    "display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;"
    "overflow:hidden;mso-hide:all;visibility:hidden"
)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_HEAD_OPEN = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_HTML_OPEN = re.compile(r"<html\b[^>]*>", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    preheader: str
    html: str
    text: str


def _template_line(tb: TracebackType | None) -> int | None:
    """The template line of the innermost template frame in a traceback. Jinja2 rewrites
    tracebacks leaving a template so that its frames carry template line numbers; frames it
    has not rewritten map their line through the template's debug info."""
    line = None
    while tb is not None:
        frame = tb.tb_frame
        template = frame.f_globals.get("__jinja_template__")
        if template is not None:
            line = template.get_corresponding_lineno(tb.tb_lineno)
        elif frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class _LRU:
    """Compiled templates by (version key, part), most recently used kept; thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], tuple[str, Template]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], source: str) -> Template | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] != source:  # a reused key with new source recompiles
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: tuple[str, str], source: str, template: Template) -> None:
        with self._lock:
            self._items[key] = (source, template)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def recipient_locale(content: TemplateContent, context: Mapping[str, Any]) -> str:
    """The language a render speaks: the recipient's locale when the template has it (a
    regional spelling like de-AT counts as de), else the template's first locale."""
    recipient = context.get("recipient")
    raw = recipient.get("locale") if isinstance(recipient, Mapping) else None
    if isinstance(raw, str) and raw:
        for locale in (raw, raw.split("-")[0].split("_")[0].lower()):
            if locale in content.locales:
                return locale
    return content.locales[0]


def fragments_for(content: TemplateContent, locale: str) -> dict[str, str]:
    """HQ's fragments in `locale`, each falling back to the template's first locale, then
    English, then "" (lint refuses a template missing a fragment in one of its locales, so the
    fallbacks only serve recipients of a language the template does not have)."""
    chosen: dict[str, str] = {}
    for name, texts in content.fragments.items():
        for loc in (locale, content.locales[0], "en"):
            if loc in texts:
                chosen[name] = texts[loc]
                break
        else:
            chosen[name] = ""
    return chosen


def _one_line(text: str) -> str:
    """Headers are one line: newlines in a subject would be header injection."""
    return _WHITESPACE.sub(" ", text).strip()


def _with_preheader(html: str, preheader: str) -> str:
    if not preheader:
        return html
    span = f'<span class="preheader" style="{PREHEADER_STYLE}">{escape(preheader)}</span>'
    body = _BODY_OPEN.search(html)
    if body is None:
        return span + html
    return html[: body.end()] + span + html[body.end() :]


def _print_document(body: str, css: str, size: str) -> str:
    """A complete HTML document with the page size; the template's CSS cannot change the size
    (it comes last) nor close the style element."""
    css = css.replace("</", "<\\/")
    styles = (
        "<style>@page { margin: 12mm; }</style>"
        f"<style>{css}</style>"
        f"<style>@page {{ size: {size}; }}</style>"
    )
    if head := _HEAD_OPEN.search(body):
        return body[: head.end()] + styles + body[head.end() :]
    if html := _HTML_OPEN.search(body):
        return body[: html.end()] + f"<head>{styles}</head>" + body[html.end() :]
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"{styles}</head>\n<body>\n{body}</body></html>\n"
    )


class Renderer:
    """Renders template content with limits and a compiled-template cache.

    One instance is shared per process (module functions below); make your own for other
    limits. Thread-safe: the budget of a render lives in a ContextVar, not on the instance.
    """

    def __init__(
        self,
        *,
        max_output: int = DEFAULT_MAX_OUTPUT,
        time_limit: float = DEFAULT_TIME_LIMIT,
        cache_size: int = DEFAULT_CACHE_SIZE,
        max_total: int | None = None,
    ) -> None:
        self.max_output = max_output
        self.time_limit = time_limit
        self.max_total = DEFAULT_MAX_TOTAL * max_output // DEFAULT_MAX_OUTPUT
        if max_total is not None:
            self.max_total = max_total
        self.html_env = Sandbox(autoescape=True)
        self.text_env = Sandbox(autoescape=False)
        self.cache = _LRU(cache_size)
        self._inliner = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)

    # --- compiled templates -------------------------------------------------------------

    def compiled(self, key: str, part: Part, source: str) -> Template:
        """The compiled template for `source`, from the cache when `key` and source match."""
        template = self.cache.get((key, part), source)
        if template is None:
            env = self.html_env if part in HTML_PARTS else self.text_env
            try:
                with self.budget():  # compiling folds constants: the limits apply
                    template = env.from_string(source)
            except TemplateSyntaxError as err:
                raise RenderError(err.message or str(err), part, err.lineno) from err
            except RenderError as err:
                raise RenderError(err.reason, part, err.line) from err
            except Exception as err:  # Python's own compiler refusing the generated code
                raise RenderError(f"{type(err).__name__}: {err}", part) from err
            self.cache.put((key, part), source, template)
        return template

    # --- variables ------------------------------------------------------------------------

    @staticmethod
    def variables(
        content: TemplateContent,
        resolved: Mapping[str, Any],
        context: Mapping[str, Any],
        *,
        html: bool,
    ) -> dict[str, Any]:
        """`slots`, `fragments` (in the recipient's locale) and the allowed context names; rich
        text as Markup (HTML) or plain text. Fragments are HQ's words as data: escaped in HTML
        parts like any other text.

        A rich-text value that is not Markup (e.g. after a JSON round trip through a workflow)
        is sanitised again, so the HTML autoescaper never lets unsanitised markup through.
        Brand blocks (content.blocks) are markup in HTML parts and plain text in text parts;
        without them in `context` they render as nothing. Date slots become content.dates.
        LocalDate: the date written out in the render's language.
        """
        unknown = sorted(set(context) - CONTEXT_NAMES)
        if unknown:
            raise ValueError(f"render context has unknown names: {', '.join(unknown)}")
        locale = recipient_locale(content, context)
        slots = dict(resolved)
        for slot in content.slots:
            value = slots.get(slot.name)
            if slot.kind == SlotKind.date:
                # The recipient's language, never ISO (content.dates); `.iso` keeps the ISO form.
                slots[slot.name] = local_date(value, locale)
                continue
            if slot.kind == SlotKind.asset and isinstance(value, str):
                # An asset id the caller did not resolve to an image (services.
                # asset_publication), or none: the same text (still false when empty), an
                # image without URL (`.tag` is empty), so `slots.x.url` is never undefined.
                if not isinstance(value, ImageRef):
                    slots[slot.name] = ImageRef(value, url="", alt="", width=0, height=0)
                continue
            if slot.kind != SlotKind.rich_text or slot.name not in slots:
                continue
            value = slots[slot.name]
            if html:
                if not isinstance(value, Markup):
                    slots[slot.name] = safe_markup(str(value))
            else:
                slots[slot.name] = text_content(str(value), links=True)
        blocks = context.get("blocks", EMPTY)
        if not isinstance(blocks, RenderedBlocks):
            raise ValueError("render context `blocks` must be content.blocks.RenderedBlocks")
        fragments = fragments_for(content, locale)
        return {
            **context,
            "blocks": blocks.for_part(html=html),
            "slots": slots,
            "fragments": fragments,
        }

    # --- rendering ------------------------------------------------------------------------

    def budget(self) -> Limits:
        """Limits for everything rendered inside; nested renders share the outer budget."""
        return Limits(self.time_limit, self.max_output, self.max_total)

    def source(self, content: TemplateContent, part: Part) -> str:
        channel, field = part.split(".")
        variant: Any = {"email": content.email, "sms": content.sms, "print": content.print}[channel]
        if variant is None:
            raise ValueError(f"this template has no {channel} variant")
        value = getattr(variant, field)
        assert isinstance(value, str)
        return value

    def render_part(
        self, key: str, content: TemplateContent, part: Part, variables: Mapping[str, Any]
    ) -> str:
        """One channel part with `variables` (see `variables()`), inside the limits."""
        template = self.compiled(key, part, self.source(content, part))
        with self.budget() as budget:
            chunks: list[str] = []
            size, limit = 0, budget.max_output
            generator = cast(Generator[str, None, None], template.generate(variables))
            try:
                for n, chunk in enumerate(generator):
                    size += len(chunk)
                    if size > limit:
                        budget.check_size(size)
                    if not n & 63:  # loops and calls check time themselves; this is a backstop
                        budget.check_time()
                    chunks.append(chunk)
            except RenderError as err:
                line = _template_line(err.__traceback__) or err.line
                raise RenderError(err.reason, part, line) from err
            except RecursionError as err:
                line = _template_line(err.__traceback__)
                raise RenderError("the template nests values too deeply", part, line) from err
            except Exception as err:  # sandbox violations, undefined names, range too big
                line = _template_line(err.__traceback__)
                raise RenderError(f"{type(err).__name__}: {err}", part, line) from err
            finally:
                generator.close()
            return "".join(chunks)

    def render_email(
        self,
        key: str,
        content: TemplateContent,
        resolved: Mapping[str, Any],
        context: Mapping[str, Any],
        *,
        inline_css: bool = True,
    ) -> RenderedEmail:
        """Subject, preheader, HTML (CSS inlined, hidden preheader) and text of one email."""
        if content.email is None:
            raise ValueError("this template has no email variant")
        html_vars = self.variables(content, resolved, context, html=True)
        text_vars = self.variables(content, resolved, context, html=False)
        with self.budget():
            subject = _one_line(self.render_part(key, content, "email.subject", text_vars))
            preheader = ""
            if content.email.preheader:
                raw = self.render_part(key, content, "email.preheader", text_vars)
                preheader = _one_line(raw)
            html = self.render_part(key, content, "email.html", html_vars)
            text = self.render_part(key, content, "email.text", text_vars)
        html = _with_preheader(html, preheader)
        if inline_css:
            try:
                html = self._inliner.inline(html)
            except css_inline.InlineError as err:
                raise RenderError(f"CSS could not be inlined: {err}", "email.html") from err
        return RenderedEmail(subject=subject, preheader=preheader, html=html, text=text)

    def render_sms(
        self,
        key: str,
        content: TemplateContent,
        resolved: Mapping[str, Any],
        context: Mapping[str, Any],
    ) -> str:
        """The SMS variant as plain text, surrounding whitespace stripped. There is no markup
        in an SMS: rich text arrives as its text, and a partner's `<b>` stays two brackets and
        a letter. The opt-out line and link shortening are the sender's (content.sms_text)."""
        if content.sms is None:
            raise ValueError("this template has no SMS variant")
        variables = self.variables(content, resolved, context, html=False)
        return self.render_part(key, content, "sms.text", variables).strip()

    def render_print_html(
        self,
        key: str,
        content: TemplateContent,
        resolved: Mapping[str, Any],
        context: Mapping[str, Any],
        size: str,
    ) -> str:
        """The print variant as a complete HTML document for `size` (A4 or A5)."""
        if content.print is None:
            raise ValueError("this template has no print variant")
        if size not in PAGE_SIZES or size not in content.print.sizes:
            raise ValueError(
                f"size must be one of the template's sizes: {', '.join(content.print.sizes)}"
            )
        variables = self.variables(content, resolved, context, html=True)
        body = self.render_part(key, content, "print.html", variables)
        return _print_document(body, content.print.css, size)


_fetcher_class: Any = None


def _fetcher(files: Mapping[str, tuple[bytes, str]]) -> Any:
    """A WeasyPrint URL fetcher that serves data: URIs and the `files` given (images the
    caller read from the blob store, by the exact URLs the print HTML names) and refuses all
    else: a PDF render must not reach the network or the file system, whatever the template
    references."""
    global _fetcher_class
    if _fetcher_class is None:
        from weasyprint.urls import (  # type: ignore[import-untyped]
            URLFetcher,
            URLFetcherResponse,
        )

        class StoreOnlyFetcher(URLFetcher):  # type: ignore[misc]
            def __init__(self, given: Mapping[str, tuple[bytes, str]]) -> None:
                super().__init__(allowed_protocols={"data"}, allow_redirects=False)
                self.given = given

            def fetch(self, url: str, headers: Any = None) -> Any:
                if url in self.given:
                    data, content_type = self.given[url]
                    return URLFetcherResponse(url, data, {"Content-Type": content_type})
                if not url.startswith("data:"):
                    raise ValueError(f"external resources are not loaded: {url[:80]}")
                return super().fetch(url, headers)

        _fetcher_class = StoreOnlyFetcher
    return _fetcher_class(files)


def render_pdf(html: str, *, files: Mapping[str, tuple[bytes, str]] | None = None) -> bytes:
    """`html` (from render_print_html) as PDF bytes; no network, no file access. `files`:
    URL -> (bytes, content type) for the images the document names (full-resolution originals
    from the asset library, see services.asset_publication.print_images).

    WeasyPrint's time and memory grow with the document (about 0.9 MB and 70 ms per 1,000
    characters of simple markup on a 2-core machine), outside the render's limits: a print
    proof is a page or two, so longer documents are refused before layout."""
    if len(html) > MAX_PDF_HTML:
        raise RenderError(
            f"the print document has {len(html):,} characters; "
            f"a PDF is made of at most {MAX_PDF_HTML:,}",
            "print.html",
        )
    from weasyprint import HTML  # type: ignore[import-untyped]  # slow import: PDF only

    pdf = HTML(string=html, base_url=None, url_fetcher=_fetcher(files or {})).write_pdf()
    assert isinstance(pdf, bytes)
    return pdf


DEFAULT_RENDERER = Renderer()


def render_email(
    key: str,
    content: TemplateContent,
    resolved: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    inline_css: bool = True,
) -> RenderedEmail:
    """Render the email variant with the shared renderer (see Renderer.render_email).

    `key` identifies the template version and locale (cache key); `resolved` comes from
    content.validate.resolve_values; `context` holds partner, recipient, unsubscribe_url,
    brand, campaign and (optionally) blocks.
    """
    return DEFAULT_RENDERER.render_email(key, content, resolved, context, inline_css=inline_css)


def render_print_html(
    key: str,
    content: TemplateContent,
    resolved: Mapping[str, Any],
    context: Mapping[str, Any],
    size: str,
) -> str:
    """Render the print variant as a full HTML document for `size` with the shared renderer."""
    return DEFAULT_RENDERER.render_print_html(key, content, resolved, context, size)


def render_sms(
    key: str,
    content: TemplateContent,
    resolved: Mapping[str, Any],
    context: Mapping[str, Any],
) -> str:
    """Render the SMS variant as plain text with the shared renderer (see Renderer.render_sms);
    arguments as for render_email."""
    return DEFAULT_RENDERER.render_sms(key, content, resolved, context)
