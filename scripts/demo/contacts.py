"""Demo contacts for every Northwind partner, generated from a seeded random source (no
downloads): 40 to 200 per partner, some without consent, some on the brand's suppression list,
and two segments each, so a first send shows the audience rules at work."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from models.contact_schemas import SegmentFilter
from models.contacts import Channel, ConsentStatus, Contact, Segment, SuppressionReason
from models.org import Brand, Partner
from services.sms.suppression import suppress_phone
from services.suppression import suppress

FIRST = (
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Eva",
    "Finn",
    "Greta",
    "Hugo",
    "Ida",
    "Jonas",
    "Lena",
    "Max",
    "Nora",
    "Oskar",
    "Paula",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Umut",
)
LAST = (
    "Bauer",
    "de Vries",
    "Fischer",
    "Jansen",
    "Keller",
    "Lang",
    "Meyer",
    "Novak",
    "Peters",
    "Schmidt",
    "Visser",
    "Wagner",
    "Weber",
    "Yilmaz",
    "Zimmermann",
)
TAGS = ("yoga", "spinning", "swimming", "strength", "family", "student")
TIERS = ("basic", "silver", "gold")
DOMAINS = ("example.com", "example.org", "example.net")
SMS_PARTNER = "amsterdam"  # whose demo contacts include some who prefer SMS
SMS_CONTACTS = 6  # of them; the last replied STOP
SEGMENTS = (("Everyone", SegmentFilter()), ("Yoga fans", SegmentFilter(tags_any=["yoga"])))


def _prefer_sms(session: Session, brand_id: int, partner: Partner) -> None:
    """A few of the club's consenting contacts prefer SMS (a Dutch mobile number, SMS consent
    from the sign-up form); the last of them replied STOP, so their number is suppressed and
    their SMS consent denied: a send with an SMS variant texts the others and them nothing."""
    contacts = session.exec(
        select(Contact)
        .where(
            Contact.partner_id == partner.id,
            Contact.consent_status == ConsentStatus.granted.value,
        )
        .order_by(col(Contact.id))
        .limit(SMS_CONTACTS)
    ).all()
    for i, contact in enumerate(contacts):
        contact.channel = Channel.sms.value
        contact.phone = f"+3161000{i:04d}"
        contact.sms_consent_status = ConsentStatus.granted.value
        contact.sms_consent_source = "club sign-up form"
        contact.sms_consent_at = contact.consent_at
        session.add(contact)
    session.flush()
    if contacts:
        suppress_phone(
            session,
            brand_id,
            contacts[-1].phone or "",
            SuppressionReason.stop,
            partner_id=partner.id,
            source="demo",
            detail="replied STOP",
        )


def seed_demo_contacts(session: Session) -> int:
    """Adds contacts to Northwind partners that have none; returns how many (0 on a re-run)."""
    brand = session.exec(select(Brand).where(Brand.slug == "northwind")).first()
    if brand is None or brand.id is None:
        return 0
    added = 0
    partners = session.exec(
        select(Partner).where(Partner.brand_id == brand.id).order_by(col(Partner.slug))
    ).all()
    for partner in partners:
        assert partner.id is not None
        if session.exec(select(Contact.id).where(Contact.partner_id == partner.id)).first():
            continue
        rng = random.Random(f"brandrelay-demo-{partner.slug}")
        since = datetime(2024, 1, 1, tzinfo=UTC)
        for i in range(rng.randint(40, 200)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            local = f"{first}.{last}".lower().replace(" ", "")
            email = f"{local}.{partner.slug}{i}@{rng.choice(DOMAINS)}"
            roll = rng.random()
            consent = (
                ConsentStatus.granted
                if roll < 0.8
                else ConsentStatus.unknown
                if roll < 0.9
                else ConsentStatus.denied
            )
            session.add(
                Contact(
                    brand_id=brand.id,
                    partner_id=partner.id,
                    email=email,
                    name=f"{first} {last}",
                    locale=partner.locale if rng.random() < 0.85 else "en",
                    consent_status=consent.value,
                    consent_source="club sign-up form" if consent != ConsentStatus.unknown else "",
                    consent_at=since + timedelta(days=rng.randint(0, 600))
                    if consent != ConsentStatus.unknown
                    else None,
                    tags=sorted(rng.sample(TAGS, rng.randint(0, 3))),
                    attributes={"tier": rng.choice(TIERS), "joined": str(rng.randint(2015, 2026))},
                )
            )
            if rng.random() < 0.06:
                reason = rng.choice((SuppressionReason.unsubscribed, SuppressionReason.bounced))
                suppress(
                    session,
                    brand.id,
                    email,
                    reason,
                    "demo data",
                    source="demo",
                    partner_id=partner.id,
                )
            added += 1
        if partner.slug == SMS_PARTNER:
            session.flush()
            _prefer_sms(session, brand.id, partner)
        for name, flt in SEGMENTS:
            session.add(
                Segment(
                    brand_id=brand.id,
                    partner_id=partner.id,
                    name=name,
                    filter=flt.model_dump(mode="json", by_alias=True, exclude_defaults=True),
                )
            )
        session.flush()
    return added
