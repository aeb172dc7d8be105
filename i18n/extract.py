"""Every message the code and the portal's templates ask gettext for, as Babel extracts them:
what the catalogue test compares each language's catalogue against."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babel.messages.extract import extract_from_dir

ROOT = Path(__file__).resolve().parent.parent
# Where messages live: the portal, its services and the emails people receive.
SOURCE_DIRS = (
    "api",
    "services",
    "content",
    "mail",
    "i18n",
    "models",
    "domain",
    "core",
    "approvals",
)
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "said": None}
METHODS = [
    ("**/tests/**", "ignore"),
    ("**.py", "python"),
    ("**/templates/**.html", "jinja2"),
    ("**/templates/**.txt", "jinja2"),
]
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}


@dataclass(frozen=True)
class Found:
    message: str | tuple[str, str]
    where: str


def messages() -> list[Found]:
    found: list[Found] = []
    for top in SOURCE_DIRS:
        directory = ROOT / top
        if not directory.is_dir():
            continue
        for filename, lineno, message, _comments, _context in extract_from_dir(
            directory,
            METHODS,
            keywords=KEYWORDS,
            options_map={
                "**/templates/**.html": JINJA_OPTIONS,
                "**/templates/**.txt": JINJA_OPTIONS,
            },
            strip_comment_tags=True,
        ):
            text = message if isinstance(message, str) else (message[0], message[1])
            if text:
                found.append(Found(text, f"{top}/{filename}:{lineno}"))
    return found
