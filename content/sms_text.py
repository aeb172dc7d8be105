"""What the sender adds to a rendered SMS: the opt-out line and short links.

An SMS carries no markup and costs by the segment, so both run on the plain text after
rendering (content.render.render_sms): the opt-out line in the recipient's language unless
HQ already wrote one, and every http(s) link replaced by the short link the caller makes
(the tracking redirect).
"""

from __future__ import annotations

import re
from collections.abc import Callable

OPT_OUT_LINES = {
    "en": "STOP to opt out",
    "nl": "STOP om af te melden",
    "de": "STOP zum Abmelden",
}
# An opt-out line HQ wrote itself: the keyword STOP as a word, in capitals, as carriers expect.
_HAS_OPT_OUT = re.compile(r"(?<![A-Za-z])STOP(?![A-Za-z])")
# A link in plain text ends at whitespace, or before closing punctuation that ends a sentence.
URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}"


def opt_out_line(locale: str) -> str:
    """The opt-out line in `locale` (de-AT counts as de), English when unknown."""
    language = locale.replace("_", "-").split("-")[0].lower()
    return OPT_OUT_LINES.get(language, OPT_OUT_LINES["en"])


def has_opt_out(text: str) -> bool:
    return bool(_HAS_OPT_OUT.search(text))


def with_opt_out(text: str, locale: str) -> str:
    """`text` with the localised opt-out line on its own line, unless it already has one."""
    text = text.rstrip()
    if has_opt_out(text):
        return text
    line = opt_out_line(locale)
    return f"{text}\n{line}" if text else line


def _split_url(match: str) -> tuple[str, str]:
    """The URL and the punctuation after it that belongs to the sentence; a closing bracket
    stays when the URL opened one (https://example.com/a_(b))."""
    url = match
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url, match[len(url) :]


def find_links(text: str) -> list[str]:
    """The http(s) URLs in `text`, in order."""
    links = []
    for match in URL.finditer(text):
        url, _ = _split_url(match.group(0))
        if "://" in url and url.split("://", 1)[1]:
            links.append(url)
    return links


def shorten_links(text: str, shorten: Callable[[str], str]) -> str:
    """`text` with every http(s) URL replaced by `shorten(url)`; punctuation closing the
    sentence after a URL is kept outside it. `shorten` is called once per distinct URL."""
    done: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        url, tail = _split_url(match.group(0))
        if not url.split("://", 1)[1]:
            return match.group(0)
        if url not in done:
            done[url] = shorten(url)
        return done[url] + tail

    return URL.sub(replace, text)
