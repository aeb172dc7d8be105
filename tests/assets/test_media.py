"""media: type by content, refusals, SVG sanitising, renditions and safe names.

Every fixture is generated here with Pillow or literal bytes.
"""

from __future__ import annotations

import hashlib
import io
import struct
import xml.etree.ElementTree as ET
import zlib

import pytest
from PIL import Image

from media.inspect import Inspected, UploadRejected, inspect_upload
from media.names import safe_filename
from media.svg import sanitize_svg, svg_size
from media.thumbnails import renditions

MB = 1024 * 1024
SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


def image_bytes(
    fmt: str, size: tuple[int, int] = (40, 30), mode: str = "RGB", **save: object
) -> bytes:
    color = (10, 120, 200, 128) if mode == "RGBA" else (10, 120, 200)
    out = io.BytesIO()
    Image.new(mode, size, color[: len(mode)]).save(out, fmt, **save)
    return out.getvalue()


def noise_png(size: tuple[int, int] = (64, 64)) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", size, bytes(range(256)) * (size[0] * size[1] * 3 // 256)).save(
        out, "PNG"
    )
    return out.getvalue()


def animated(fmt: str, colors: list[tuple[int, int, int]], size: tuple[int, int]) -> bytes:
    frames = [Image.new("RGB", size, c) for c in colors]
    out = io.BytesIO()
    frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def with_ihdr_size(png: bytes, width: int, height: int) -> bytes:
    """Patch the declared size; the pixel data is untouched, only the header lies."""
    assert png[12:16] == b"IHDR"
    ihdr = b"IHDR" + struct.pack(">II", width, height) + png[24:29]
    return png[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + png[33:]


def inspect(data: bytes, filename: str = "upload", **kwargs: int) -> Inspected:
    kwargs.setdefault("max_bytes", 10 * MB)
    return inspect_upload(data, filename, **kwargs)


def rejected(data: bytes, filename: str = "upload", **kwargs: int) -> str:
    with pytest.raises(UploadRejected) as info:
        inspect(data, filename, **kwargs)
    assert info.value.field == "file"
    assert info.value.message.startswith("file: ")
    assert str(info.value) == info.value.message
    return info.value.message


# --- accepted types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension"),
    [
        ("PNG", "image/png", "png"),
        ("JPEG", "image/jpeg", "jpg"),
        ("GIF", "image/gif", "gif"),
        ("WEBP", "image/webp", "webp"),
    ],
)
def test_raster_images_are_identified(fmt: str, content_type: str, extension: str) -> None:
    data = image_bytes(fmt, (40, 30))
    result = inspect(data, "Brand Logo.bin")
    assert (result.content_type, result.extension) == (content_type, extension)
    assert (result.width, result.height) == (40, 30)
    assert result.size == len(data)
    assert result.data == data
    assert result.checksum == "sha256:" + hashlib.sha256(data).hexdigest()
    assert result.safe_name == f"Brand-Logo.{extension}"


def test_type_comes_from_content_not_name() -> None:
    result = inspect(image_bytes("PNG"), "report.pdf")
    assert result.content_type == "image/png"
    assert result.safe_name == "report.png"


def test_animation_within_limits_is_accepted() -> None:
    data = animated("GIF", [(255, 0, 0), (0, 0, 255)], (20, 10))
    assert inspect(data, max_pixels=400).content_type == "image/gif"


def test_minimal_pdf_is_accepted_without_dimensions() -> None:
    data = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"
    result = inspect(data, "flyer.PDF")
    assert (result.content_type, result.extension) == ("application/pdf", "pdf")
    assert (result.width, result.height) == (None, None)
    assert result.safe_name == "flyer.pdf"


# --- refusals ---------------------------------------------------------------------------


def test_empty_file_is_refused() -> None:
    assert "empty" in rejected(b"", "logo.png")


def test_html_named_png_is_refused_naming_the_expected_types() -> None:
    message = rejected(b"<!DOCTYPE html><html><body>hi</body></html>", "logo.png")
    assert "HTML" in message
    assert "expected PNG, JPEG, GIF, WebP, SVG or PDF" in message


def test_executable_is_refused() -> None:
    message = rejected(b"MZ\x90\x00\x03" + b"\x00" * 200, "photo.jpg")
    assert "executable" in message
    assert "expected PNG" in message


def test_unknown_bytes_are_refused() -> None:
    assert "expected PNG" in rejected(b"just some text\n", "notes.png")


def test_size_limit_is_checked_before_parsing() -> None:
    # Corrupt content: if it were parsed first the message would be about corruption.
    truncated = noise_png()[:150]
    assert len(truncated) == 150
    message = rejected(truncated, max_bytes=100)
    assert message == "file: is 150 bytes; the limit is 100 bytes"


def test_size_message_uses_readable_units() -> None:
    message = rejected(b"\x89PNG\r\n\x1a\n" + bytes(12_900_000), max_bytes=10 * MB)
    assert message == "file: is 12.3 MB; the limit is 10 MB"


def test_size_message_is_exact_when_rounding_would_hide_the_difference() -> None:
    message = rejected(bytes(10 * MB + 1), max_bytes=10 * MB)
    assert message == "file: is 10,485,761 bytes; the limit is 10,485,760 bytes"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image_is_refused(fmt: str) -> None:
    data = noise_png() if fmt == "PNG" else image_bytes("JPEG", (200, 200), quality=95)
    message = rejected(data[: len(data) // 2])
    assert f"not a readable {fmt} image" in message


def test_decompression_bomb_is_refused_from_the_header() -> None:
    bomb = with_ihdr_size(image_bytes("PNG", (1, 1)), 50_000, 50_000)
    assert len(bomb) < 200
    assert "pixels" in rejected(bomb, "bomb.png")


def test_pixel_limit_is_local_to_the_call() -> None:
    global_limit = Image.MAX_IMAGE_PIXELS
    data = image_bytes("PNG", (100, 100))
    message = rejected(data, max_pixels=9_999)
    assert message == "file: is 100x100 = 10,000 pixels; the limit is 9,999 pixels"
    assert inspect(data, max_pixels=10_000).width == 100
    assert global_limit == Image.MAX_IMAGE_PIXELS


def test_animation_counts_every_frame_against_the_pixel_limit() -> None:
    data = animated("GIF", [(255, 0, 0), (0, 255, 0), (0, 0, 255)], (20, 10))
    message = rejected(data, max_pixels=599)  # one frame is 200 pixels, three are 600
    assert "3 frames" in message
    assert "600 pixels" in message


def test_pdf_without_eof_marker_is_refused() -> None:
    assert "%%EOF" in rejected(b"%PDF-1.7\n<html><script>alert(1)</script>", "doc.pdf")


# --- SVG --------------------------------------------------------------------------------

HOSTILE_SVG = b"""<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     width="120" height="60px" onload="alert(1)">
  <script>alert(2)</script>
  <style>rect { fill: url(http://evil.example/track) }</style>
  <foreignObject width="10" height="10"><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>
  <defs><linearGradient id="grad"><stop offset="0" stop-color="#f00"/></linearGradient></defs>
  <rect id="box" width="10" height="10" fill="url(#grad)" onclick="alert(3)"/>
  <circle cx="5" cy="5" r="4" fill="url(http://evil.example/track)" stroke="red"/>
  <path d="M0 0L10 10" style="fill: url(http://evil.example/x)"/>
  <use xlink:href="#box" x="20"/>
  <use xlink:href="http://evil.example/sprite.svg#icon"/>
  <use href="javascript:alert(4)"/>
  <a href="javascript:alert(5)"><rect width="1" height="1"/></a>
  <image href="http://evil.example/pixel.png" width="1" height="1"/>
  <text x="0" y="50" font-family="Inter" class="java&#x09;script:x">Brand</text>
</svg>"""


def test_svg_is_detected_and_sanitised_on_upload() -> None:
    result = inspect(HOSTILE_SVG, "logo.png")
    assert (result.content_type, result.extension) == ("image/svg+xml", "svg")
    assert result.safe_name == "logo.svg"
    assert (result.width, result.height) == (120, 60)
    assert result.data == sanitize_svg(HOSTILE_SVG)
    assert result.checksum == "sha256:" + hashlib.sha256(result.data).hexdigest()
    assert result.size == len(result.data)


def test_svg_sanitiser_removes_active_and_external_content() -> None:
    out = sanitize_svg(HOSTILE_SVG)
    text = out.decode("utf-8")
    for forbidden in ("script", "alert", "evil.example", "onload", "onclick", "style"):
        assert forbidden not in text
    assert "foreignObject" not in text and "<image" not in text and "<a " not in text

    root = ET.fromstring(out)
    assert root.tag == f"{SVG_NS}svg"
    tags = [el.tag.removeprefix(SVG_NS) for el in root.iter()]
    shapes = ["rect", "circle", "path", "use", "use", "use", "text"]
    assert tags == ["svg", "defs", "linearGradient", "stop", *shapes]
    rect = root.find(f"{SVG_NS}rect")
    assert rect is not None and rect.attrib == {
        "id": "box",
        "width": "10",
        "height": "10",
        "fill": "url(#grad)",
    }
    circle = root.find(f"{SVG_NS}circle")
    assert circle is not None and "fill" not in circle.attrib and circle.get("stroke") == "red"
    uses = root.findall(f"{SVG_NS}use")
    assert [u.get(XLINK_HREF) for u in uses] == ["#box", None, None]
    assert [u.get("href") for u in uses] == [None, None, None]
    text_el = root.find(f"{SVG_NS}text")
    assert text_el is not None and text_el.text == "Brand"
    assert "class" not in text_el.attrib and text_el.get("font-family") == "Inter"


def test_svg_without_namespace_gets_one() -> None:
    out = sanitize_svg(b'<svg viewBox="0 0 32 16"><path d="M0 0h1"/></svg>')
    root = ET.fromstring(out)
    assert root.tag == f"{SVG_NS}svg"
    assert root[0].tag == f"{SVG_NS}path"
    assert svg_size(out) == (32, 16)


def test_svg_size_falls_back_to_none() -> None:
    out = sanitize_svg(b'<svg width="100%" height="2em"><g/></svg>')
    assert svg_size(out) == (None, None)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE svg [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&lol2;</text></svg>"""

XXE = b"""<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_svg_with_dtd_is_refused(data: bytes) -> None:
    assert "DOCTYPE or ENTITY" in rejected(data, "logo.svg")


def test_svg_in_utf16_is_refused() -> None:
    data = '<svg xmlns="http://www.w3.org/2000/svg"/>'.encode("utf-16")
    with pytest.raises(UploadRejected, match="UTF-8"):
        sanitize_svg(data)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"<svg><rect></svg>", "not well-formed"),
        (b'<html xmlns="http://www.w3.org/1999/xhtml"><svg/></html>', "root element"),
        (b'<svg xmlns="http://example.com/not-svg"/>', "root element"),
    ],
)
def test_sanitiser_refuses_non_svg(data: bytes, expected: str) -> None:
    with pytest.raises(UploadRejected, match=expected):
        sanitize_svg(data)


def test_html_containing_svg_is_not_taken_for_svg() -> None:
    assert "HTML" in rejected(b"<html><body><svg></svg></body></html>", "x.svg")


# --- renditions -------------------------------------------------------------------------


def test_renditions_fit_their_boxes() -> None:
    result = renditions(image_bytes("JPEG", (4000, 2000)), "image/jpeg")
    assert set(result) == {"thumb", "web"}
    assert (result["thumb"].width, result["thumb"].height) == (320, 160)
    assert (result["web"].width, result["web"].height) == (1200, 600)
    for rendition in result.values():
        with Image.open(io.BytesIO(rendition.data)) as im:
            assert im.size == (rendition.width, rendition.height)


def test_small_image_is_not_upscaled() -> None:
    result = renditions(image_bytes("PNG", (50, 40)), "image/png")
    assert {(r.width, r.height) for r in result.values()} == {(50, 40)}


def test_exif_orientation_is_applied_and_metadata_stripped() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[0x010F] = "SecretCam"  # Make
    data = image_bytes("JPEG", (400, 200), exif=exif.tobytes(), comment=b"SecretComment")
    result = renditions(data, "image/jpeg")
    assert (result["thumb"].width, result["thumb"].height) == (160, 320)
    assert (result["web"].width, result["web"].height) == (200, 400)
    for rendition in result.values():
        assert b"SecretCam" not in rendition.data
        assert b"SecretComment" not in rendition.data
        with Image.open(io.BytesIO(rendition.data)) as im:
            assert "exif" not in im.info
            assert dict(im.getexif()) == {}


def test_alpha_gives_png_and_opaque_gives_jpeg() -> None:
    with_alpha = renditions(image_bytes("PNG", mode="RGBA"), "image/png")
    opaque = renditions(image_bytes("PNG", mode="RGB"), "image/png")
    assert {r.content_type for r in with_alpha.values()} == {"image/png"}
    assert {r.content_type for r in opaque.values()} == {"image/jpeg"}
    with Image.open(io.BytesIO(with_alpha["thumb"].data)) as im:
        assert im.mode == "RGBA"
    assert opaque["thumb"].data.startswith(b"\xff\xd8\xff")


@pytest.mark.parametrize(("fmt", "content_type"), [("GIF", "image/gif"), ("WEBP", "image/webp")])
def test_animation_renders_its_first_frame(fmt: str, content_type: str) -> None:
    data = animated(fmt, [(255, 0, 0), (0, 0, 255)], (40, 20))
    thumb = renditions(data, content_type)["thumb"]
    with Image.open(io.BytesIO(thumb.data)) as im:
        red, green, blue = im.convert("RGB").getpixel((20, 10))  # type: ignore[misc]
    assert red > 200 and blue < 50 and green < 50


@pytest.mark.parametrize("content_type", ["image/svg+xml", "application/pdf"])
def test_vector_and_documents_have_no_renditions(content_type: str) -> None:
    assert renditions(b"irrelevant", content_type) == {}


def test_renditions_enforce_the_pixel_limit_too() -> None:
    with pytest.raises(UploadRejected, match="pixels"):
        renditions(image_bytes("PNG", (100, 100)), "image/png", max_pixels=9_999)


# --- names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "extension", "expected"),
    [
        ("../../etc/passwd", "png", "passwd.png"),
        ("C:\\evil\\x.exe", "png", "x.png"),
        ("Café Ünïcode.jpg", "jpg", "Cafe-Unicode.jpg"),
        (".hidden", "png", "hidden.png"),
        ("", "pdf", "file.pdf"),
        ("..", "png", "file.png"),
        ("日本語.png", "png", "file.png"),
        ("--a  b__c...d.gif", "webp", "a-b_c.d.webp"),
        ("logo.svg.exe", "svg", "logo.svg.svg"),
    ],
)
def test_safe_filename(name: str, extension: str, expected: str) -> None:
    assert safe_filename(name, extension) == expected


def test_safe_filename_is_at_most_100_characters() -> None:
    name = safe_filename("a" * 300 + ".png", "jpg")
    assert len(name) == 100
    assert name.endswith("a.jpg")


def test_truncation_is_caught_even_when_pillow_is_told_to_pad(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """WeasyPrint turns on LOAD_TRUNCATED_IMAGES for the whole process when it is imported."""
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    for fmt in ("PNG", "JPEG", "GIF", "WEBP"):
        data = noise_png() if fmt == "PNG" else image_bytes(fmt, (200, 200))
        assert "readable" in rejected(data[: len(data) // 2]), fmt
