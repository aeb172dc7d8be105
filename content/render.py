"""Template rendering for email and print: sandboxed, size- and time-limited, cached.

Template source (HQ) runs in Jinja2's ImmutableSandboxedEnvironment; partner values only ever
arrive as data in `slots`, never as template source, so `{{ 7*7 }}` typed by a partner stays
text in every channel. HTML parts autoescape; plain-text parts (subject, preheader, text) do
not, but get rich text as plain text. Limits are enforced without threads or signals: every
loop iteration, function call and intercepted operator checks a per-render budget, and output
is consumed chunk by chunk from `Template.generate()` so a runaway template stops early.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, cast

import css_inline
from jinja2 import StrictUndefined, Template, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.filters import do_center, do_format, do_indent
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range
from markupsafe import Markup, escape

from content.sanitize import safe_markup, text_content
from content.spec import SlotKind, TemplateContent

Part = Literal["email.subject", "email.preheader", "email.html", "email.text", "print.html"]
PARTS: tuple[Part, ...] = (
    "email.subject",
    "email.preheader",
    "email.html",
    "email.text",
    "print.html",
)
HTML_PARTS = frozenset({"email.html", "print.html"})
# Variables a template may use besides `slots` (see content.lint.TOP_LEVEL).
CONTEXT_NAMES = frozenset({"partner", "recipient", "unsubscribe_url", "brand", "campaign"})
PAGE_SIZES = ("A4", "A5")

DEFAULT_MAX_OUTPUT = 2_000_000  # characters per channel part
DEFAULT_TIME_LIMIT = 2.0  # seconds per render call
DEFAULT_CACHE_SIZE = 512  # compiled templates
MAX_INT_BITS = 100_000  # `**` results beyond this are refused before they are computed
MAX_FILTER_WIDTH = 1_000  # center/indent widths

PREHEADER_STYLE = (
    "display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;"
    "overflow:hidden;mso-hide:all;visibility:hidden"
)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_HEAD_OPEN = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_HTML_OPEN = re.compile(r"<html\b[^>]*>", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


class RenderError(Exception):
    """A template could not be rendered: over a limit, a sandbox violation, a template error."""

    def __init__(self, message: str, part: str | None = None) -> None:
        super().__init__(f"{part}: {message}" if part else message)
        self.part = part
        self.reason = message


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    preheader: str
    html: str
    text: str


class _Budget:
    """Deadline and size cap of one render call, visible to the sandbox hooks."""

    __slots__ = ("deadline", "max_output", "time_limit")

    def __init__(self, time_limit: float, max_output: int) -> None:
        self.time_limit = time_limit
        self.max_output = max_output
        self.deadline = time.perf_counter() + time_limit

    def check_time(self) -> None:
        if time.perf_counter() > self.deadline:
            raise RenderError(f"rendering took longer than {self.time_limit:g} seconds")

    def check_size(self, size: int) -> None:
        if size > self.max_output:
            raise RenderError(f"output is larger than {self.max_output} characters")


_BUDGET: ContextVar[_Budget | None] = ContextVar("content_render_budget", default=None)


def _check_time() -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.check_time()


def _check_size(size: int) -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.check_size(size)


class _TickingCodeGenerator(CodeGenerator):
    """Every for-loop body starts with `environment.tick()`, routed through the sandbox's
    `call`, so even a loop that outputs nothing and calls nothing runs out of time."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        tick = nodes.ExprStmt(
            nodes.Call(nodes.EnvironmentAttribute("tick"), [], [], None, None)
        ).set_lineno(node.lineno)
        tick.set_environment(self.environment)
        node.body = [tick, *node.body]
        super().visit_For(node, frame)


def _bounded(filter_: Callable[..., Any], name: str) -> Callable[..., Any]:
    """A width-taking filter that refuses widths that would allocate gigabytes."""

    def wrapper(value: Any, *args: Any, **kwargs: Any) -> Any:
        width = args[0] if args else kwargs.get("width")
        if isinstance(width, int) and abs(width) > MAX_FILTER_WIDTH:
            raise RenderError(f"{name} width {width} is over {MAX_FILTER_WIDTH}")
        return filter_(value, *args, **kwargs)

    return wrapper


# Widths/precisions of 10000+ or taken from arguments, in %-style and {}-style format strings.
_HUGE_FORMAT = re.compile(
    r"%(?:\([^)]*\))?[-+ #0]*(?:[0-9]{5,}|\*|[0-9]*\.(?:[0-9]{5,}|\*))"
    r"|\{[^{}]*:[^{}]*(?:[0-9]{5,}|\{)"
)


def _huge_format(fmt: Any) -> bool:
    return isinstance(fmt, str) and _HUGE_FORMAT.search(fmt) is not None


def _bounded_format(value: str, *args: Any, **kwargs: Any) -> str:
    if _huge_format(value):
        raise RenderError("format widths of 10000 and more are not allowed")
    return do_format(value, *args, **kwargs)


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox plus limits; the only globals are the sandbox's bounded `range`."""

    code_generator_class = _TickingCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+"})

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(autoescape=autoescape, undefined=StrictUndefined, cache_size=0)
        self.globals.clear()
        self.globals["range"] = safe_range
        self.filters["center"] = _bounded(do_center, "center")
        self.filters["indent"] = _bounded(do_indent, "indent")
        self.filters["format"] = _bounded_format

    def tick(self) -> None:
        """Called at the top of every loop iteration; the checking happens in `call`."""

    def call(
        __self,  # the sandbox's own convention: avoids clashes with keyword arguments
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        _check_time()
        for arg in args:
            if isinstance(arg, str | list | tuple):
                _check_size(len(arg))
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_time()
        if operator == "*":
            seq, n = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(seq, str | list | tuple) and isinstance(n, int):
                _check_size(len(seq) * n)
        elif operator == "**" and isinstance(left, int) and isinstance(right, int):
            if right > 0 and left.bit_length() * right > MAX_INT_BITS:
                raise RenderError(f"{left} ** {right} is too large a number")
        elif (
            operator == "+"
            and isinstance(left, str | list | tuple)
            and isinstance(right, str | list | tuple)
        ):
            _check_size(len(left) + len(right))
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """`"{:>999999999}".format(x)` would allocate a gigabyte before any limit could act."""
        wrapped = super().wrap_str_format(value)
        if wrapped is not None and _huge_format(value.__self__):

            def refuse(*args: Any, **kwargs: Any) -> str:
                raise RenderError("format widths of 10000 and more are not allowed")

            return refuse
        return wrapped

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`slots.x` on a dict looks up the key first: the variables are all plain dicts, and
        a slot named like a dict method (items, keys) should still mean the slot."""
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


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
    ) -> None:
        self.max_output = max_output
        self.time_limit = time_limit
        self.html_env = _Sandbox(autoescape=True)
        self.text_env = _Sandbox(autoescape=False)
        self.cache = _LRU(cache_size)
        self._inliner = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)

    # --- compiled templates -------------------------------------------------------------

    def compiled(self, key: str, part: Part, source: str) -> Template:
        """The compiled template for `source`, from the cache when `key` and source match."""
        template = self.cache.get((key, part), source)
        if template is None:
            env = self.html_env if part in HTML_PARTS else self.text_env
            try:
                template = env.from_string(source)
            except Exception as err:
                raise RenderError(str(err), part) from err
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
        """`slots` plus the allowed context names; rich text as Markup (HTML) or plain text.

        A rich-text value that is not Markup (e.g. after a JSON round trip through a workflow)
        is sanitised again, so the HTML autoescaper never lets unsanitised markup through.
        """
        unknown = sorted(set(context) - CONTEXT_NAMES)
        if unknown:
            raise ValueError(f"render context has unknown names: {', '.join(unknown)}")
        slots = dict(resolved)
        for slot in content.slots:
            if slot.kind != SlotKind.rich_text or slot.name not in slots:
                continue
            value = slots[slot.name]
            if html:
                if not isinstance(value, Markup):
                    slots[slot.name] = safe_markup(str(value))
            else:
                slots[slot.name] = text_content(str(value), links=True)
        return {**context, "slots": slots}

    # --- rendering ------------------------------------------------------------------------

    @contextmanager
    def budget(self) -> Iterator[None]:
        """Limits for everything rendered inside; nested renders share the outer budget."""
        if _BUDGET.get() is not None:
            yield
            return
        token = _BUDGET.set(_Budget(self.time_limit, self.max_output))
        try:
            yield
        finally:
            _BUDGET.reset(token)

    def source(self, content: TemplateContent, part: Part) -> str:
        channel, field = part.split(".")
        variant = content.email if channel == "email" else content.print
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
        with self.budget():
            budget = _BUDGET.get()
            assert budget is not None
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
                raise RenderError(err.reason, part) from err
            except Exception as err:  # sandbox violations, undefined names, range too big
                raise RenderError(f"{type(err).__name__}: {err}", part) from err
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


_fetcher: Any = None


def _data_only_fetcher() -> Any:
    """A WeasyPrint URL fetcher that refuses everything but data: URIs: a PDF render must not
    reach the network or the file system, whatever the template references."""
    global _fetcher
    if _fetcher is None:
        from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]

        class DataOnlyFetcher(URLFetcher):  # type: ignore[misc]
            def fetch(self, url: str, headers: Any = None) -> Any:
                if not url.startswith("data:"):
                    raise ValueError(f"external resources are not loaded: {url[:80]}")
                return super().fetch(url, headers)

        _fetcher = DataOnlyFetcher(allowed_protocols={"data"}, allow_redirects=False)
    return _fetcher


def render_pdf(html: str) -> bytes:
    """`html` (from render_print_html) as PDF bytes; no network, no file access."""
    from weasyprint import HTML  # type: ignore[import-untyped]  # slow import: PDF only

    pdf = HTML(string=html, base_url=None, url_fetcher=_data_only_fetcher()).write_pdf()
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
    brand and campaign.
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
