"""Brand blocks: the header and footer HQ defines once per brand and templates include.

A block is data (validated fields), never template source: the markup around it is fixed here
and every field is escaped, so legal text holding `{{ 7*7 }}` or `<script>` stays text. A
template version keeps a snapshot of the blocks (services.brand_blocks), and rendering reads the
snapshot, so a changed block never alters what was approved.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

MAX_LINKS = 8
MAX_LEGAL = 2_000
ASSET_UID = r"^ast_[A-Za-z0-9]{4,36}$"

# The public URL of a library image, or None when there is none (the header then shows the
# brand name as text). Injected so this module knows nothing of storage or the web.
ImageUrl = Callable[[str], str | None]


def no_image_url(uid: str) -> str | None:
    """No public image URLs: the header shows its name instead of the logo."""
    return None


class BlockKind(StrEnum):
    header = "header"
    footer = "footer"


def _https(value: str) -> str:
    """Only absolute https links: javascript:, data: and relative URLs are refused."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme.lower() != "https" or not parts.netloc or parts.username or parts.password:
        raise ValueError("must be an absolute https:// URL, e.g. https://example.com/page")
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError("must not contain spaces or control characters")
    return value


def _one_line(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("must be a single line")
    return value.strip()


def _text(value: str) -> str:
    """Multi-line plain text: line ends normalised, control characters other than newline
    refused (they have no meaning in an email and hide text)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if any(ord(c) < 32 and c != "\n" and c != "\t" for c in value):
        raise ValueError("must not contain control characters")
    return value


HttpsUrl = Annotated[str, Field(min_length=8, max_length=500), AfterValidator(_https)]
Line = Annotated[str, AfterValidator(_one_line)]


class SocialLink(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Annotated[Line, Field(min_length=1, max_length=40)]
    url: HttpsUrl


class HeaderBlock(BaseModel):
    """The top of every email and print page: the logo (or the name when there is none)."""

    model_config = ConfigDict(extra="forbid")
    brand_name: Annotated[Line, Field(min_length=1, max_length=120)] = Field(
        description="Shown as the logo's alt text, and instead of the logo when there is none"
    )
    tagline: Annotated[Line, Field(max_length=200)] = ""
    logo_asset: str | None = Field(
        None,
        pattern=ASSET_UID,
        description="uid of an approved brand-wide image in the brand's asset library",
    )


class FooterBlock(BaseModel):
    """The bottom of every email and print page: legal text, social links, an address."""

    model_config = ConfigDict(extra="forbid")
    legal_text: Annotated[str, Field(min_length=1, max_length=MAX_LEGAL), AfterValidator(_text)]
    address: Annotated[Line, Field(max_length=300)] = ""
    links: list[SocialLink] = Field(default_factory=list, max_length=MAX_LINKS)


BLOCK_MODELS: dict[BlockKind, type[HeaderBlock] | type[FooterBlock]] = {
    BlockKind.header: HeaderBlock,
    BlockKind.footer: FooterBlock,
}

# Fixed markup: email-safe (tables, inline styles), the same for print.
_HEADER_STYLE = "padding:16px 24px;font-family:Helvetica,Arial,sans-serif;"
_FOOTER_STYLE = (
    "padding:16px 24px;font-family:Helvetica,Arial,sans-serif;font-size:12px;"
    "line-height:1.5;color:#666666;"
)


def header_html(block: HeaderBlock, image_url: ImageUrl) -> Markup:
    src = image_url(block.logo_asset) if block.logo_asset else None
    if src:
        brand = Markup('<img src="{}" alt="{}" style="max-height:48px;border:0;display:block;">')
        brand = brand.format(src, block.brand_name)
    else:
        brand = Markup('<strong style="font-size:20px;">{}</strong>').format(block.brand_name)
    tagline = Markup("")
    if block.tagline:
        tagline = Markup('<div style="font-size:13px;color:#666666;">{}</div>').format(
            block.tagline
        )
    return Markup(
        '<table role="presentation" class="brand-header" width="100%" cellpadding="0"'
        ' cellspacing="0"><tr><td style="{}">{}{}</td></tr></table>'
    ).format(_HEADER_STYLE, brand, tagline)


def header_text(block: HeaderBlock) -> str:
    return "\n".join(line for line in (block.brand_name, block.tagline) if line)


def footer_html(block: FooterBlock) -> Markup:
    legal = Markup("<br>").join(escape(line) for line in block.legal_text.split("\n"))
    parts = [Markup('<p style="margin:0 0 8px;">{}</p>').format(legal)]
    if block.address:
        parts.append(Markup('<p style="margin:0 0 8px;">{}</p>').format(block.address))
    if block.links:
        links = Markup(" &middot; ").join(
            Markup('<a href="{}" style="color:#666666;">{}</a>').format(link.url, link.label)
            for link in block.links
        )
        parts.append(Markup('<p style="margin:0;">{}</p>').format(links))
    return Markup(
        '<table role="presentation" class="brand-footer" width="100%" cellpadding="0"'
        ' cellspacing="0"><tr><td style="{}">{}</td></tr></table>'
    ).format(_FOOTER_STYLE, Markup("").join(parts))


def footer_text(block: FooterBlock) -> str:
    lines = [block.legal_text]
    if block.address:
        lines.append(block.address)
    lines += [f"{link.label}: {link.url}" for link in block.links]
    return "\n".join(lines)


@dataclass(frozen=True)
class RenderedBlocks:
    """What a template sees as `blocks`: markup in HTML parts, plain text in text parts.
    A kind without a block renders as nothing."""

    html: dict[str, Markup] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)

    def for_part(self, *, html: bool) -> dict[str, Any]:
        if html:
            return {kind.value: self.html.get(kind.value, Markup("")) for kind in BlockKind}
        return {kind.value: self.text.get(kind.value, "") for kind in BlockKind}


EMPTY = RenderedBlocks()


def parse_snapshot(snapshot: Mapping[str, Any]) -> dict[BlockKind, HeaderBlock | FooterBlock]:
    """The blocks of a snapshot ({"header": {"version": n, "content": {...}}, ...}); a kind
    missing or no longer valid is left out rather than failing a send."""
    found: dict[BlockKind, HeaderBlock | FooterBlock] = {}
    for kind, model in BLOCK_MODELS.items():
        entry = snapshot.get(kind.value)
        if not isinstance(entry, Mapping):
            continue
        try:
            found[kind] = model.model_validate(entry.get("content", {}))
        except ValidationError:
            continue
    return found


def render_blocks(
    snapshot: Mapping[str, Any], image_url: ImageUrl = no_image_url
) -> RenderedBlocks:
    """The blocks of a snapshot as markup and text, ready for the render context."""
    html: dict[str, Markup] = {}
    text: dict[str, str] = {}
    for kind, block in parse_snapshot(snapshot).items():
        if isinstance(block, HeaderBlock):
            html[kind.value], text[kind.value] = header_html(block, image_url), header_text(block)
        else:
            html[kind.value], text[kind.value] = footer_html(block), footer_text(block)
    return RenderedBlocks(html=html, text=text)


def _logo_uid(snapshot: Mapping[str, Any]) -> str | None:
    header = snapshot.get(BlockKind.header.value)
    content = header.get("content") if isinstance(header, Mapping) else None
    uid = content.get("logo_asset") if isinstance(content, Mapping) else None
    return uid if isinstance(uid, str) else None


@lru_cache(maxsize=256)
def _rendered(snapshot_json: str, logo_src: str | None) -> RenderedBlocks:
    return render_blocks(json.loads(snapshot_json), lambda uid: logo_src)


def render_snapshot(
    snapshot: Mapping[str, Any], image_url: ImageUrl = no_image_url
) -> RenderedBlocks:
    """render_blocks, remembered by the snapshot's content and the logo's URL: every message
    of a send shares its version's blocks, and validating and escaping them again for each
    (about 0.2 ms) would cost more than rendering the rest of the email."""
    uid = _logo_uid(snapshot)
    src = image_url(uid) if uid else None
    return _rendered(json.dumps(snapshot, sort_keys=True, separators=(",", ":")), src)
