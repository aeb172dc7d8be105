"""SVG sanitising: an SVG is an XML document that browsers will run scripts from.

We rebuild the document from an allow-list of drawing elements and presentation attributes
rather than deleting known-bad parts, because the list of ways to execute code or fetch
remote content from SVG (script, event handlers, foreignObject HTML, CSS, external
references) keeps growing. What remains can only draw shapes and reference itself.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from media import UploadRejected

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"

ALLOWED_ELEMENTS = frozenset(
    {"svg", "g", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon"}
    | {"text", "tspan", "defs", "linearGradient", "radialGradient", "stop", "clipPath"}
    | {"mask", "title", "desc", "use", "symbol"}
)
ALLOWED_ATTRIBUTES = frozenset(
    {"id", "class", "d", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry"}
    | {"width", "height", "viewBox", "points", "fill", "stroke", "stroke-width"}
    | {"stroke-linecap", "stroke-linejoin", "opacity", "fill-opacity", "stroke-opacity"}
    | {"fill-rule", "clip-rule", "transform", "offset", "stop-color", "stop-opacity"}
    | {"gradientUnits", "gradientTransform", "font-family", "font-size", "font-weight"}
    | {"text-anchor", "preserveAspectRatio", "clip-path", "mask", "version", "xmlns"}
)
# Deep enough for real artwork; bounds recursion so a crafted file cannot exhaust the stack.
MAX_DEPTH = 100

_LOCAL_FRAGMENT = re.compile(r"#[A-Za-z_][\w.:-]*")
_LOCAL_URL = re.compile(r"url\(\s*(['\"]?)#[A-Za-z_][\w.:-]*\1\s*\)", re.IGNORECASE)
_IGNORED_IN_SCHEMES = re.compile(r"[\s\x00-\x1f]+")
_NUMBER_PX = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(?:px)?\s*")


def _reject(message: str) -> UploadRejected:
    return UploadRejected("file", f"file: {message}")


def sanitize_svg(data: bytes) -> bytes:
    """Return a standalone UTF-8 SVG keeping only allow-listed elements and attributes.

    Raises UploadRejected for DTDs (entity expansion and external entities), non-UTF-8
    input, malformed XML and documents whose root is not ``<svg>``.
    """
    try:
        # Parse the decoded text, so the DTD check below sees exactly what the parser sees
        # (bytes could declare UTF-16 and hide "<!ENTITY" from a byte search).
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _reject("SVG must be UTF-8 encoded") from exc
    lowered = text.lower()
    if "<!doctype" in lowered or "<!entity" in lowered:
        raise _reject("SVG with a DOCTYPE or ENTITY declaration is not accepted")
    try:
        root = ET.fromstring(text)  # noqa: S314 - DTDs refused above, so no entities to expand
    except ET.ParseError as exc:
        raise _reject(f"is not well-formed SVG ({exc})") from exc
    namespace, local = _split(root.tag)
    if local != "svg" or namespace not in ("", SVG_NS):
        raise _reject("is not an SVG document (the root element must be <svg>)")
    clean = _clean(root, depth=0)
    assert clean is not None  # the root is an allowed <svg>
    # The tree is built with unqualified names and the declarations written as plain
    # attributes: ET's own namespace handling would either invent "ns0:" prefixes or need
    # ET.register_namespace, which changes serialisation process-wide.
    clean.set("xmlns", SVG_NS)
    clean.set("xmlns:xlink", XLINK_NS)
    body = ET.tostring(clean, encoding="unicode")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body.encode("utf-8")


def svg_size(data: bytes) -> tuple[int | None, int | None]:
    """Pixel size of a sanitised SVG: width/height when plain numbers, else the viewBox.

    Only for output of sanitize_svg: it is not re-checked for DTDs.
    """
    root = ET.fromstring(data)  # noqa: S314 - our own sanitised output has no DTD
    width, height = _length(root.get("width")), _length(root.get("height"))
    if width is not None and height is not None:
        return width, height
    parts = re.split(r"[\s,]+", (root.get("viewBox") or "").strip())
    if len(parts) == 4:
        try:
            vb_width, vb_height = float(parts[2]), float(parts[3])
        except ValueError:
            return None, None
        if vb_width > 0 and vb_height > 0:
            return max(1, round(vb_width)), max(1, round(vb_height))
    return None, None


def _length(value: str | None) -> int | None:
    if value is None or not (match := _NUMBER_PX.fullmatch(value)):
        return None
    number = round(float(match.group(1)))
    return number if number > 0 else None


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _clean(element: ET.Element, depth: int) -> ET.Element | None:
    if depth > MAX_DEPTH:
        raise _reject(f"SVG nests elements more than {MAX_DEPTH} levels deep")
    namespace, local = _split(element.tag)
    if namespace not in ("", SVG_NS) or local not in ALLOWED_ELEMENTS:
        return None
    clean = ET.Element(local)
    for name, value in element.attrib.items():
        kept = _attribute(local, name, value)
        if kept is not None:
            clean.set(kept, value)
    clean.text = element.text
    for child in element:
        kept_child = _clean(child, depth + 1)
        if kept_child is not None:
            kept_child.tail = child.tail
            clean.append(kept_child)
        elif child.tail:
            # Text after a dropped element (inside <text>) still belongs to the drawing.
            if len(clean):
                clean[-1].tail = (clean[-1].tail or "") + child.tail
            else:
                clean.text = (clean.text or "") + child.tail
    return clean


def _attribute(element: str, name: str, value: str) -> str | None:
    """The name to write the attribute under, or None to drop it."""
    if "javascript:" in _IGNORED_IN_SCHEMES.sub("", value).lower():
        return None
    if name in ("href", f"{{{XLINK_NS}}}href"):
        # Only a reference to this document: an external one fetches content we never saw.
        if element == "use" and _LOCAL_FRAGMENT.fullmatch(value.strip()):
            return "href" if name == "href" else "xlink:href"
        return None
    if name not in ALLOWED_ATTRIBUTES or name.lower().startswith("on"):
        return None
    # Presentation attributes are CSS values: escapes could spell "url(" in disguise.
    if "\\" in value or "url(" in _LOCAL_URL.sub("", value).lower():
        return None
    return name
