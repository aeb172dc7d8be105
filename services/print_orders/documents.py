"""The print-ready PDF of an order: the partner campaign's print variant in the order's format,
with the partner's values, full-resolution images, 3 mm bleed and crop marks (fonts are
embedded by WeasyPrint), stored once in the asset store under a key of the order."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlmodel import Session

from content.render import RenderError, render_pdf, render_print_html
from content.validate import resolve_values
from core.settings import Settings
from models.campaigns import Campaign, PartnerCampaign
from models.org import Partner
from models.print_orders import PrintOrder
from models.templates import TemplateVersion
from services import asset_publication as images
from services import brand_blocks
from services.templates import content_of, render_context, validation_context
from storage.base import BlobStore, brand_key

PRINT_CSS = "<style>@page { bleed: 3mm; marks: crop; }</style>"


class PdfRefused(ValueError):
    """The PDF cannot be made from this order (no print variant, a refused template, too
    large): asking again changes nothing, the order fails with this text."""


@dataclass(frozen=True)
class MadePdf:
    key: str
    sha256: str
    size: int


def pdf_key(order: PrintOrder) -> str:
    return brand_key(order.brand_id, "print-orders", f"{order.vendor_key}.pdf")


def with_bleed(html: str) -> str:
    """The print document with bleed and crop marks; after the template's own styles so it
    cannot take them away."""
    at = html.lower().rfind("</head>")
    if at < 0:
        return PRINT_CSS + html
    return html[:at] + PRINT_CSS + html[at:]


def print_html(
    session: Session, settings: Settings, order: PrintOrder
) -> tuple[str, dict[str, tuple[bytes, str]]]:
    """The order's print document and the image files its PDF may read."""
    pc = session.get(PartnerCampaign, order.partner_campaign_id)
    assert pc is not None
    campaign = session.get(Campaign, pc.campaign_id)
    assert campaign is not None
    version = session.get(TemplateVersion, campaign.template_version_id)
    partner = session.get(Partner, pc.partner_id)
    assert version is not None and partner is not None
    content = content_of(version)
    if content.print is None:
        raise PdfRefused("the campaign's template has no print variant")
    if order.format not in content.print.sizes:
        raise PdfRefused(f"the template does not print {order.format}")
    ctx = validation_context(
        session,
        pc.brand_id,
        partner,
        pc.locale,
        None,
        None,
        content=content,
        values=dict(pc.values),
        today=order.created_at.date(),
    )
    resolved = resolve_values(content, dict(pc.values), ctx)
    store = images.store_for(settings)
    found = images.print_images(session, store, content, resolved, brand_id=pc.brand_id)
    resolved = images.with_images(content, resolved, found.refs)
    render_ctx = render_context(session, pc.brand_id, partner, settings.public_base_url)
    render_ctx["campaign"] = {"name": campaign.name}
    logo = images.print_image_url(session, store, pc.brand_id, found.files)
    render_ctx["blocks"] = brand_blocks.blocks_for(session, version, logo)
    key = f"print-order-{order.id}-{version.id}"
    try:
        html = render_print_html(key, content, resolved, render_ctx, order.format)
    except (RenderError, ValueError) as err:
        raise PdfRefused(f"the print variant cannot be rendered: {err}") from err
    return with_bleed(html), found.files


def make_pdf(session: Session, settings: Settings, store: BlobStore, order: PrintOrder) -> MadePdf:
    """Render and store the PDF (a retry renders again and overwrites the same key)."""
    html, files = print_html(session, settings, order)
    try:
        pdf = render_pdf(html, files=files)
    except RenderError as err:
        raise PdfRefused(f"the PDF cannot be made: {err}") from err
    if len(pdf) > settings.print_pdf_max_bytes:
        raise PdfRefused(
            f"the PDF has {len(pdf):,} bytes, the vendor takes at most "
            f"{settings.print_pdf_max_bytes:,}"
        )
    key = pdf_key(order)
    store.put(key, pdf, "application/pdf")
    return MadePdf(key, hashlib.sha256(pdf).hexdigest(), len(pdf))
