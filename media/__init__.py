"""Upload inspection for the asset library: what a file really is, and whether we store it.

Entry points live in the submodules (``media.inspect.inspect_upload``,
``media.thumbnails.renditions``, ``media.svg.sanitize_svg``, ``media.names.safe_filename``).
The shared exception is defined here, not in a submodule, so that ``media.svg`` and
``media.inspect`` can both raise it without importing each other.
"""

from __future__ import annotations


class UploadRejected(Exception):
    """An upload we refuse; ``field`` names the form field so the API can point at it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


__all__ = ["UploadRejected"]
