"""The print-ready PDF: the flyer in the order's format with the partner's values, its page
bigger than the trim by 3 mm bleed on every side (TrimBox and BleedBox written), crop marks,
fonts embedded, the full-resolution image, stored under the order's key with its SHA-256."""

from __future__ import annotations

import hashlib
import io
from datetime import date, timedelta
from typing import Any

from pypdf import PdfReader
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.settings import Settings
from models.campaigns import PartnerCampaign
from models.org import User
from models.print_orders import PrintOrder
from services.print_orders.documents import PdfRefused, make_pdf, print_html
from storage.local import LocalBlobStore
from tests.print_orders.conftest import event_day, flyer_pc

MM = 72 / 25.4  # PDF points per millimetre
A5 = (148 * MM, 210 * MM)


def _order(engine: Engine, pc_id: int, fmt: str = "A5") -> PrintOrder:
    with Session(engine) as s:
        editor = s.exec(
            select(User).where(User.email == "editor.amsterdam@northwind.example")
        ).one()
        pc = s.get(PartnerCampaign, pc_id)
        assert pc is not None
        order = PrintOrder(
            brand_id=pc.brand_id,
            region_id=pc.region_id,
            partner_id=pc.partner_id,
            partner_campaign_id=pc_id,
            format=fmt,
            quantity=500,
            recipient_name="Northwind Amsterdam",
            street="Damrak 1",
            postal_code="1012 LG",
            city="Amsterdam",
            country="NL",
            wanted_by=date.today() + timedelta(days=14),
            currency="EUR",
            quote_minor=9500,
            vendor_key="brandrelay-po-test-pdf",
            ordered_by=editor.id or 0,
        )
        s.add(order)
        s.commit()
        s.refresh(order)
        return order


def test_the_pdf_has_bleed_crop_marks_embedded_fonts_and_the_partners_text(
    demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    pc_id = flyer_pc(demo, values={"event_date": event_day(), "headline": "Open doors at Damrak"})
    order = _order(demo, pc_id)
    with Session(demo) as s:
        made = make_pdf(s, settings, blob_store, order)
    pdf = blob_store.get(made.key)
    assert hashlib.sha256(pdf).hexdigest() == made.sha256 and made.key.endswith(".pdf")
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    media, trim, bleed = page.mediabox, page.trimbox, page.bleedbox
    assert abs(float(trim.width) - A5[0]) < 1 and abs(float(trim.height) - A5[1]) < 1
    # 3 mm of bleed on every side, and the media box holds the crop marks beyond it.
    assert abs(float(bleed.width) - float(trim.width) - 6 * MM) < 0.5
    assert abs(float(bleed.height) - float(trim.height) - 6 * MM) < 0.5
    assert float(media.width) >= float(bleed.width) and float(media.height) >= float(bleed.height)
    assert float(media.width) > float(trim.width)
    text = " ".join(page.extract_text().split())
    assert "Open doors at Damrak" in text
    resources: Any = page["/Resources"]
    fonts = resources["/Font"]
    assert fonts, "the page names fonts"
    for ref in fonts.values():
        font = ref.get_object()
        descriptor = font.get("/FontDescriptor") or font["/DescendantFonts"][0].get_object().get(
            "/FontDescriptor"
        )
        descriptor = descriptor.get_object()
        assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")), font
    images = list(resources.get("/XObject", {}).values())
    assert images, "the hero image is in the PDF"


def test_partner_text_is_data_in_the_print_document(demo: Engine, settings: Settings) -> None:
    payload = "<script>x</script>{{ 7*7 }}"
    pc_id = flyer_pc(demo, values={"event_date": event_day(), "headline": payload})
    order = _order(demo, pc_id)
    with Session(demo) as s:
        html, _ = print_html(s, settings, order)
    i = html.find("<script>x")
    assert i < 0, html[i - 300 : i + 100]
    assert "&lt;script&gt;x" in html, html[html.find("<h1") : html.find("</h1>")]
    assert "{{ 7*7 }}" in html
    assert "bleed: 3mm" in html and "marks: crop" in html


def test_a_format_the_template_does_not_print_is_refused(demo: Engine, settings: Settings) -> None:
    order = _order(demo, flyer_pc(demo), fmt="A4")
    with Session(demo) as s:
        try:
            print_html(s, settings, order)
        except PdfRefused as err:
            assert "A4" in str(err)
        else:
            raise AssertionError("an A4 order of an A5-only flyer must be refused")
