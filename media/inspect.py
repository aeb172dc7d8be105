"""Upload inspection: decide what a file is from its bytes, and refuse what we will not store.

The type comes from magic bytes only. A file name or a client-sent content type is whatever
the uploader chose, and trusting it would let an HTML page be stored (and later served) as
"logo.png". Size is checked before anything parses the file, and image dimensions before
any pixels are decoded, so a small file cannot make us allocate gigabytes.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, ImageFile

from media import UploadRejected
from media.names import safe_filename
from media.svg import sanitize_svg, svg_size

__all__ = ["ALLOWED_CONTENT_TYPES", "Inspected", "UploadRejected", "inspect_upload"]

DEFAULT_MAX_PIXELS = 40_000_000
# Where a PDF reader still looks for the end-of-file marker (Acrobat: the last 1024 bytes).
PDF_EOF_WINDOW = 1024
# How far into a file to look for the <svg> root past the XML declaration, comments and DTD.
SVG_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class Inspected:
    content_type: str
    extension: str
    size: int  # of ``data``, the bytes to store (for SVG, after sanitising)
    width: int | None
    height: int | None
    checksum: str  # "sha256:<hex>" of ``data``
    data: bytes
    safe_name: str


@dataclass(frozen=True)
class _Kind:
    content_type: str
    extension: str
    label: str
    pillow_format: str | None  # None: not a raster image


_PNG = _Kind("image/png", "png", "PNG", "PNG")
_JPEG = _Kind("image/jpeg", "jpg", "JPEG", "JPEG")
_GIF = _Kind("image/gif", "gif", "GIF", "GIF")
_WEBP = _Kind("image/webp", "webp", "WebP", "WEBP")
_SVG = _Kind("image/svg+xml", "svg", "SVG", None)
_PDF = _Kind("application/pdf", "pdf", "PDF", None)
_KINDS = (_PNG, _JPEG, _GIF, _WEBP, _SVG, _PDF)
ALLOWED_CONTENT_TYPES = frozenset(kind.content_type for kind in _KINDS)
_EXPECTED = ", ".join(kind.label for kind in _KINDS[:-1]) + f" or {_KINDS[-1].label}"

# Atomic groups and a possessive repeat keep this linear on hostile input.
_SVG_PROLOG = re.compile(
    rb"\A(?:\xef\xbb\xbf)?"
    rb"(?>\s|<\?xml[^>]*\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?>\[.*?\])?\s*>)*+"
    rb"<svg[\s/>]",
    re.DOTALL | re.IGNORECASE,
)
# Named in the refusal so the uploader learns what they actually sent.
_KNOWN_REFUSED = (
    (re.compile(rb"\AMZ"), "a Windows executable"),
    (re.compile(rb"\A\x7fELF"), "an executable"),
    (re.compile(rb"\APK\x03\x04"), "a ZIP archive"),
    (re.compile(rb"\A(?:\xef\xbb\xbf)?\s*<(?:!doctype\s+html|html|head|body)", re.I), "HTML"),
)


def _reject(message: str) -> UploadRejected:
    return UploadRejected("file", f"file: {message}")


def inspect_upload(
    data: bytes, filename: str, *, max_bytes: int, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Inspected:
    """Identify, check and normalise one upload; raise UploadRejected if it cannot be stored.

    ``filename`` only feeds ``safe_name``; it never influences the detected type.
    """
    if not data:
        raise _reject("is empty")
    if len(data) > max_bytes:
        size, limit = _format_size(len(data)), _format_size(max_bytes)
        if size == limit:
            size, limit = f"{len(data):,} bytes", f"{max_bytes:,} bytes"
        raise _reject(f"is {size}; the limit is {limit}")
    kind = _sniff(data)
    if kind is None:
        raise _reject(f"{_describe(data)}; expected {_EXPECTED}")

    width: int | None = None
    height: int | None = None
    if kind is _SVG:
        data = sanitize_svg(data)
        width, height = svg_size(data)
    elif kind is _PDF:
        if b"%%EOF" not in data[-PDF_EOF_WINDOW:]:
            raise _reject("is not a complete PDF (no %%EOF marker at the end)")
    else:
        width, height = _check_raster(data, kind, max_pixels)

    return Inspected(
        content_type=kind.content_type,
        extension=kind.extension,
        size=len(data),
        width=width,
        height=height,
        checksum="sha256:" + hashlib.sha256(data).hexdigest(),
        data=data,
        safe_name=safe_filename(filename, kind.extension),
    )


def _sniff(data: bytes) -> _Kind | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _PNG
    if data.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return _GIF
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _WEBP
    if data.startswith(b"%PDF-"):
        return _PDF
    if _SVG_PROLOG.match(data[:SVG_SNIFF_BYTES]):
        return _SVG
    return None


def _describe(data: bytes) -> str:
    for pattern, description in _KNOWN_REFUSED:
        if pattern.match(data[:512]):
            return f"looks like {description}, which is not accepted"
    return "is not an accepted type of file"


def _format_size(n: int) -> str:
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def _check_raster(data: bytes, kind: _Kind, max_pixels: int) -> tuple[int, int]:
    """Return (width, height) once the image is proven decodable within ``max_pixels``."""
    limit = f"the limit is {max_pixels:,} pixels"
    try:
        with _open(data, kind) as image:  # reads the header only
            width, height = image.size
            if width * height > max_pixels:
                raise _reject(f"is {width}x{height} = {width * height:,} pixels; {limit}")
            # Every frame may be decoded later (players, converters), so they all count.
            frames = getattr(image, "n_frames", 1)
            if frames * width * height > max_pixels:
                raise _reject(
                    f"is an animation of {frames} frames of {width}x{height}"
                    f" = {frames * width * height:,} pixels; {limit}"
                )
            image.verify()
        # verify() checks structure (PNG CRCs) but not e.g. a JPEG cut short; decoding the
        # first frame does, and it is now known to be of bounded size. Decoding alone is not
        # enough: WeasyPrint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES on import, which
        # makes Pillow pad a cut-off image silently, so the end of the file is checked too.
        if not _ends_complete(data, kind):
            raise _reject(f"is not a readable {kind.label} image (corrupt or truncated)")
        with _open(data, kind) as image:
            image.load()
    except UploadRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own process-wide ceiling, hit before our check could run.
        raise _reject(f"has too many pixels to process; {limit}") from exc
    except Exception as exc:  # Pillow reports malformed input with many exception types
        raise _reject(f"is not a readable {kind.label} image (corrupt or truncated)") from exc
    return width, height


def _ends_complete(data: bytes, kind: _Kind) -> bool:
    """The format's end marker is present, independent of Pillow's global settings."""
    if kind is _PNG:
        return b"IEND" in data[-64:]
    if kind is _JPEG:
        return b"\xff\xd9" in data[-1024:]
    if kind is _GIF:
        return data.rstrip(b"\x00").endswith(b"\x3b")
    if kind is _WEBP:
        return int.from_bytes(data[4:8], "little") + 8 <= len(data)
    return True


@contextmanager
def _open(data: bytes, kind: _Kind) -> Iterator[ImageFile.ImageFile]:
    assert kind.pillow_format is not None
    # Only the plugin for the sniffed type: Pillow must not reinterpret the bytes as another.
    image = Image.open(io.BytesIO(data), formats=[kind.pillow_format])
    try:
        yield image
    finally:
        image.close()
