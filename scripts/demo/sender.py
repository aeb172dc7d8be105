"""The demo's sender identity: Northwind has verified a sending domain and Amsterdam sends
under its own name with replies going to its front desk. Idempotent: rows are keyed by brand
and partner and only created when missing, so a partner's later changes are kept."""

from __future__ import annotations

from sqlmodel import Session, select

from models.org import Brand, Partner
from models.sender import BrandSender, PartnerSender

DEMO_SENDING_DOMAIN = "mail.northwind.example"
AMSTERDAM_FROM_NAME = "Northwind Amsterdam Damrak"
AMSTERDAM_FROM = f"amsterdam@{DEMO_SENDING_DOMAIN}"
AMSTERDAM_REPLY_TO = "frontdesk.amsterdam@northwind.example"


def seed_demo_sender(session: Session, brand: Brand) -> None:
    assert brand.id is not None
    if session.get(BrandSender, brand.id) is None:
        session.add(
            BrandSender(brand_id=brand.id, domains=[DEMO_SENDING_DOMAIN], default_local_part="news")
        )
    amsterdam = session.exec(
        select(Partner).where(Partner.brand_id == brand.id, Partner.slug == "amsterdam")
    ).first()
    if (
        amsterdam is not None
        and amsterdam.id is not None
        and session.get(PartnerSender, amsterdam.id) is None
    ):
        session.add(
            PartnerSender(
                partner_id=amsterdam.id,
                brand_id=brand.id,
                from_name=AMSTERDAM_FROM_NAME,
                from_address=AMSTERDAM_FROM,
                reply_to=AMSTERDAM_REPLY_TO,
            )
        )
    session.flush()
