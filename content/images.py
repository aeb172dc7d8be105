"""What a template sees for an asset slot: the asset id as text, plus what an <img> needs.

An ImageRef *is* the asset id (a str subclass), so templates written before images rendered
(`data-asset="{{ slots.hero_image }}"`) print exactly what they printed before, and
`{% if slots.hero_image %}` still tests for a chosen image. The extra attributes are plain
data (escaped like any value when printed), and `.tag` is a complete `<img>` element whose
every attribute value is escaped here, so alt text such as `"><script>` or `{{7*7}}` stays
text. Attribute names carry no underscore prefix: the sandbox allows reading them and nothing
else (no methods of our own are exposed besides str's, which the sandbox already guards).
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

# The content column of an email is 600 CSS pixels wide; renditions are made twice as wide
# for high-density screens (media.thumbnails.WEB_BOX), so the display size is capped here.
EMAIL_COLUMN = 600


def display_size(width: int, height: int, column: int = EMAIL_COLUMN) -> tuple[int, int]:
    """The width and height attributes for an image `width` x `height` pixels wide in an email:
    its own size, scaled down to the column width keeping the aspect ratio."""
    if width <= column:
        return width, height
    return column, max(1, round(height * column / width))


class ImageRef(str):
    """An asset slot's value with the image's URL, alt text and display size."""

    url: str
    alt: str
    width: int
    height: int
    content_type: str

    def __new__(
        cls,
        uid: str,
        *,
        url: str,
        alt: str,
        width: int,
        height: int,
        content_type: str = "",
    ) -> ImageRef:
        obj = super().__new__(cls, uid)
        obj.url = url
        obj.alt = alt
        obj.width = width
        obj.height = height
        obj.content_type = content_type
        return obj

    @property
    def uid(self) -> str:
        return str.__str__(self)

    @property
    def tag(self) -> Markup:
        """`<img src alt width height style>`; empty when the image has no URL (an SVG or a
        file without an email rendition): an email never carries a broken image."""
        if not self.url:
            return Markup("")  # nothing to show: no broken image in anyone's inbox
        return Markup(
            '<img src="{}" alt="{}" width="{}" height="{}" '
            'style="display:block;border:0;max-width:100%;height:auto;">'
        ).format(self.url, self.alt, int(self.width), int(self.height))

    def __getnewargs_ex__(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Copies and pickles keep the attributes (the keyword-only constructor needs them)."""
        fields = ("url", "alt", "width", "height", "content_type")
        return (self.uid,), {name: getattr(self, name) for name in fields}


__all__ = ["EMAIL_COLUMN", "ImageRef", "display_size"]
