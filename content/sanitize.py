"""Rich-text sanitising: partners may format text, never inject markup.

An allow-list (nh3, a Rust HTML sanitiser) rather than a block-list, because a block-list is
only as good as the last bypass someone thought of. Everything not listed is stripped; the
content of script-like elements is dropped entirely rather than shown as text.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html.parser import HTMLParser

import nh3
from markupsafe import Markup

ALLOWED_TAGS = frozenset(
    {"p", "br", "strong", "b", "em", "i", "u", "ul", "ol", "li", "a", "h2", "h3"}
    | {"blockquote", "span"}
)
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {"a": frozenset({"href", "title"})}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Elements whose content is code or embedded documents, not text a reader should see.
DROP_WITH_CONTENT = frozenset(
    {"script", "style", "iframe", "frame", "frameset", "object", "embed", "applet"}
    | {"noscript", "noembed", "noframes", "template", "textarea", "select", "title", "xmp"}
    | {"svg", "math", "head"}
)

_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROP_WITH_CONTENT),
    attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(URL_SCHEMES),
    url_relative="deny",  # a relative link means nothing in an email or on paper
    link_rel="noopener noreferrer",
    strip_comments=True,
)

_BLOCKS = frozenset({"p", "li", "h2", "h3", "blockquote", "ul", "ol"})
_SPACE = re.compile(r"\s+")


# Both functions are pure and are asked about the same value several times per message
# (validate, resolve, render; and again for every recipient of a send), hence the caches.
@lru_cache(maxsize=256)
def sanitize_html(html: str) -> str:
    """The allow-listed subset of `html` (idempotent: cleaning clean HTML changes nothing)."""
    return _CLEANER.clean(html)


def safe_markup(html: str) -> Markup:
    """Sanitised `html` marked safe for the autoescaper: the only way rich text becomes Markup."""
    return Markup(sanitize_html(html))  # noqa: S704 - sanitised by the allow-list just above


class _TextCollector(HTMLParser):
    """Visible text of sanitised HTML: one line per block, optional bullets and link targets."""

    def __init__(self, links: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.links = links
        self.lines: list[str] = []
        self.current: list[str] = []
        self.hrefs: list[str | None] = []

    def _break(self) -> None:
        line = _SPACE.sub(" ", "".join(self.current)).strip()
        if line:
            self.lines.append(line)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS or tag == "br":
            self._break()
        if tag == "li" and self.links:
            self.current.append("- ")
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.hrefs:
            href = self.hrefs.pop()
            if self.links and href and not href.startswith("mailto:"):
                self.current.append(f" ({href})")
        if tag in _BLOCKS:
            self._break()

    def handle_data(self, data: str) -> None:
        self.current.append(data)

    def text(self) -> str:
        self.close()
        self._break()
        return "\n".join(self.lines)


@lru_cache(maxsize=256)
def text_content(html: str, *, links: bool = False) -> str:
    """What a reader sees of `html` after sanitising: text only, one line per block.

    Length limits and brand rules apply to this, not to the markup. With `links=True` list items
    get a "- " bullet and links their target in brackets (the plain-text email part).
    """
    collector = _TextCollector(links)
    collector.feed(sanitize_html(html))
    return collector.text()
