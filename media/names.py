"""Storage-safe file names.

The uploader's name is kept only as a hint for people; it never decides the type (the
extension is replaced by the detected one) and never carries a path, so it cannot escape a
storage prefix or be mistaken for a hidden or executable file.
"""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 100

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RUNS = re.compile(r"[._-]{2,}")


def safe_filename(name: str, extension: str) -> str:
    """Return ``<stem>.<extension>`` using only ``[A-Za-z0-9._-]``, at most 100 characters."""
    ext = _UNSAFE.sub("", extension).strip("._-").lower() or "bin"
    # Browsers send either separator depending on the client OS; both are path syntax here.
    stem = re.split(r"[/\\]", name)[-1].strip()
    dot = stem.rfind(".")
    if dot > 0:  # a leading dot marks a hidden file, not an extension
        stem = stem[:dot]
    # NFKD splits "é" into "e" + combining accent, so dropping non-ASCII keeps the letter.
    stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    stem = _UNSAFE.sub("-", stem)
    stem = _RUNS.sub(lambda m: m.group(0)[0], stem)
    stem = stem.strip("._-")
    stem = stem[: MAX_LENGTH - len(ext) - 1].rstrip("._-")
    return f"{stem or 'file'}.{ext}"
