"""Raster renditions of stored images, for the library grid and for use in emails.

Renditions are JPEG, or PNG when the image has transparency: WebP would be smaller, but
several mail clients still cannot show it. SVG and PDF get none: rasterising SVG would need a
renderer dependency (and would run that renderer on uploaded input), and PDF previews are out
of scope for now; the library shows a type icon for both.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps

from media import UploadRejected

THUMB_BOX = (320, 320)
# Twice the 600 CSS pixels of an email column (high-density screens): sharp, and about half
# the bytes of 1600 wide for the same photo.
WEB_BOX = (1200, 1200)
JPEG_QUALITY = 85
DEFAULT_MAX_PIXELS = 40_000_000
_PILLOW_FORMATS = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}


@dataclass(frozen=True)
class Rendition:
    data: bytes
    content_type: str
    width: int
    height: int


def renditions(
    data: bytes, content_type: str, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> dict[str, Rendition]:
    """Return {"thumb", "web"} renditions of a raster image; {} for SVG and PDF.

    Meant for bytes that inspect_upload accepted; the pixel limit is checked again so that a
    caller skipping inspection still cannot make us decode a decompression bomb.
    """
    pillow_format = _PILLOW_FORMATS.get(content_type)
    if pillow_format is None:
        return {}
    with Image.open(io.BytesIO(data), formats=[pillow_format]) as source:
        width, height = source.size
        if width * height > max_pixels:
            raise UploadRejected(
                "file", f"file: is {width}x{height} pixels; the limit is {max_pixels:,} pixels"
            )
        if pillow_format == "JPEG":
            # Let libjpeg decode at a reduced scale (still >= the largest box): far less work.
            source.draft(None, WEB_BOX)
        # Animated GIF/WebP: Image.open is positioned on the first frame, the one we show.
        upright = ImageOps.exif_transpose(source)
    alpha = upright.has_transparency_data
    base = upright.convert("RGBA" if alpha else "RGB")
    return {
        "thumb": _render(base, THUMB_BOX, alpha),
        "web": _render(base, WEB_BOX, alpha),
    }


def _render(base: Image.Image, box: tuple[int, int], alpha: bool) -> Rendition:
    image = base.copy()
    image.thumbnail(box, Image.Resampling.LANCZOS)  # shrinks only, keeps the aspect ratio
    icc_profile = base.info.get("icc_profile")
    # No EXIF, XMP or comments (camera, GPS, editing history): set only what we choose. The
    # ICC profile is kept because without it wide-gamut photos would shift colour.
    image.info = {}
    out = io.BytesIO()
    if alpha:
        image.save(out, "PNG", icc_profile=icc_profile)
        content_type = "image/png"
    else:
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, icc_profile=icc_profile)
        content_type = "image/jpeg"
    return Rendition(out.getvalue(), content_type, image.width, image.height)
