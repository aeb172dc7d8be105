"""The demo's co-op money: Amsterdam's fund for the current quarter (EUR 1,000.00, HQ pays
50 % of email, SMS and print) and Northwind's rate card, so `make up` shows a balance that
moves when the demo's campaigns are approved and sent.

Idempotent: the allocation has a fixed ledger key, and the rates are written only while the
brand has none (a re-seed keeps what HQ set since)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlmodel import Session, select

from domain.money import CostChannel
from models.fund_schemas import CostRateIn
from models.funds import CostRate, Fund
from models.org import Brand, Partner, User
from services.funds import rates
from services.funds.allocation import allocate_one, parse_terms
from services.funds.terms import quarter_of

BRAND = "northwind"
PARTNER = "amsterdam"
RATE_CARD: tuple[tuple[CostChannel, str, int, int | None, str], ...] = (
    (CostChannel.email, "", 1, None, "0.05"),
    (CostChannel.sms, "", 1, None, "0.08"),  # per segment
    (CostChannel.print, "A5", 1, 249, "0.30"),
    (CostChannel.print, "A5", 250, 999, "0.18"),
    (CostChannel.print, "A5", 1000, None, "0.12"),
    (CostChannel.print, "A4", 1, 249, "0.45"),
    (CostChannel.print, "A4", 250, 999, "0.28"),
    (CostChannel.print, "A4", 1000, None, "0.20"),
)


def seed_demo_funds(session: Session) -> Fund | None:
    """Amsterdam's fund for this quarter (None when the demo brand is missing)."""
    brand = session.exec(select(Brand).where(Brand.slug == BRAND)).first()
    if brand is None or brand.id is None:
        return None
    partner = session.exec(
        select(Partner).where(Partner.brand_id == brand.id, Partner.slug == PARTNER)
    ).first()
    admin = session.exec(select(User).where(User.email == f"admin@{BRAND}.example")).first()
    if partner is None or admin is None or admin.id is None:
        return None
    if session.exec(select(CostRate.id).where(CostRate.brand_id == brand.id)).first() is None:
        card = [
            CostRateIn(
                channel=channel,
                format=fmt,
                min_quantity=lo,
                max_quantity=hi,
                unit=unit,
                currency="EUR",
            )
            for channel, fmt, lo, hi, unit in RATE_CARD
        ]
        rates.replace(session, brand.id, admin.id, f"demo-{uuid.uuid4().hex}", card)
    period = quarter_of(datetime.now(UTC).date())
    terms = parse_terms(
        period.name, "EUR", "1000.00", "50", [CostChannel.email, CostChannel.sms, CostChannel.print]
    )
    fund, _, _ = allocate_one(
        session, partner, terms, user_id=admin.id, key="demo-seed", note="demo allocation"
    )
    return fund
