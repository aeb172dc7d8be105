"""A large partner network for scale work, added to a demo brand (Northwind by default):
regions of about 500 partners each, every partner with its editor and GM (users and
memberships as the demo has them), the demo's two segments, and `contacts_per_partner`
contacts each (80 % with consent, 10 % unknown, 10 % denied, about 1 % on the brand's
suppression list as unsubscribed, as in the demo contacts).

Written in bulk (scripts.bulk.rows): 10,000 partners with 200 contacts each are 2 million
contact rows. Idempotent by slug: partners that exist (`scale-00001`, ...) are left alone, so
a re-run adds only what is missing. Passwords: one hash for every user (the caller's, or the
demo password hashed once). Nothing here is an action of a person, so, as with the demo
seed, no audit events are written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from core.security import hash_password
from domain.roles import Role, ScopeType
from models.base import utcnow
from models.contact_schemas import SegmentFilter
from models.org import Brand, Partner, Region
from scripts.bulk.rows import analyze, indexes_rebuilt_after, reserve_ids, write_rows
from scripts.demo.contacts import DOMAINS, FIRST, LAST, TAGS, TIERS
from scripts.demo.organisation import DEMO_PASSWORD

PARTNERS_PER_REGION = 500
SLUG_PREFIX = "scale-"
CITIES = (
    ("Amsterdam", "NL", "nl", "Europe/Amsterdam"),
    ("Berlin", "DE", "de", "Europe/Berlin"),
    ("Vienna", "AT", "de", "Europe/Vienna"),
    ("Zurich", "CH", "de", "Europe/Zurich"),
    ("Antwerp", "BE", "nl", "Europe/Brussels"),
    ("Dublin", "IE", "en", "Europe/Dublin"),
)
_SINCE = datetime(2024, 1, 1, tzinfo=UTC)
# The contacts' JSON columns come from small sets, serialised once.
_TAG_SETS = [json.dumps(sorted({TAGS[i % 6], TAGS[(i * 5 + 1) % 6]})) for i in range(12)]
_TAG_SETS += ["[]", json.dumps(["yoga"])]
_ATTRS = [
    json.dumps({"tier": tier, "joined": str(year)}) for tier in TIERS for year in range(2015, 2027)
]
_SEGMENTS = (
    ("Everyone", json.dumps(SegmentFilter().model_dump(mode="json", exclude_defaults=True))),
    (
        "Yoga fans",
        json.dumps(
            SegmentFilter(tags_any=["yoga"]).model_dump(
                mode="json", by_alias=True, exclude_defaults=True
            )
        ),
    ),
)


def slug(n: int) -> str:
    return f"{SLUG_PREFIX}{n:05d}"


def editor_email(n: int, domain: str = "northwind.example") -> str:
    return f"editor.{slug(n)}@{domain}"


def gm_email(n: int, domain: str = "northwind.example") -> str:
    return f"gm.{slug(n)}@{domain}"


@dataclass(frozen=True)
class NetworkSeeded:
    brand_id: int
    regions: int
    partners_added: int
    partners_total: int
    users_added: int
    contacts_added: int
    suppressed_added: int


def _regions(session: Session, brand_id: int, partners: int, per_region: int) -> list[Region]:
    wanted = max(1, -(-partners // per_region))
    found = {
        r.name: r
        for r in session.exec(
            select(Region).where(
                Region.brand_id == brand_id, col(Region.name).like("Scale region %")
            )
        ).all()
    }
    now = utcnow()
    for i in range(1, wanted + 1):
        name = f"Scale region {i:02d}"
        if name not in found:
            region = Region(brand_id=brand_id, name=name, created_at=now)
            session.add(region)
            found[name] = region
    session.flush()
    return [found[f"Scale region {i:02d}"] for i in range(1, wanted + 1)]


def seed_network(
    session: Session,
    partners: int,
    contacts_per_partner: int,
    *,
    brand_slug: str = "northwind",
    password_hash: str | None = None,
    partners_per_region: int = PARTNERS_PER_REGION,
) -> NetworkSeeded:
    """Add partners scale-00001..scale-<partners> (and their people and contacts) to the brand,
    which must exist (the demo seed makes it). Flushes; the caller commits."""
    brand = session.exec(select(Brand).where(Brand.slug == brand_slug)).one()
    assert brand.id is not None
    brand_id = brand.id
    domain = f"{brand_slug}.example"
    regions = _regions(session, brand_id, partners, partners_per_region)
    have = set(
        session.exec(
            select(Partner.slug).where(
                Partner.brand_id == brand_id, col(Partner.slug).like(f"{SLUG_PREFIX}%")
            )
        ).all()
    )
    todo = [n for n in range(1, partners + 1) if slug(n) not in have]
    now = utcnow()
    if not todo:
        return NetworkSeeded(brand_id, len(regions), 0, len(have), 0, 0, 0)
    pw = password_hash or hash_password(DEMO_PASSWORD)
    partner_ids = dict(zip(todo, reserve_ids(session, "partner", len(todo)), strict=True))
    region_of = {n: regions[(n - 1) // partners_per_region].id for n in todo}

    def partner_rows() -> Iterator[tuple[object, ...]]:
        for n in todo:
            city, country, locale, tz = CITIES[n % len(CITIES)]
            s = slug(n)
            yield (
                partner_ids[n], brand_id, region_of[n], s, f"Northwind {city} {n:05d}",
                f"Main street {n}", f"{10000 + n}", city, country, "+00 100 200 300",
                f"{s}@{domain}", f"https://{domain}/{s}", "Mon-Fri 07:00-22:00", locale, tz,
                "{}", None, False, now, now,
            )  # fmt: skip

    write_rows(
        session,
        "partner",
        (
            "id brand_id region_id slug display_name street postal_code city country phone email "
            "website opening_hours locale timezone social logo_asset_id "
            "contacts_shared_with_brand created_at updated_at"
        ),
        partner_rows(),
    )
    # Two people per partner: the editor and the GM, as the demo partners have.
    user_ids = reserve_ids(session, "user", 2 * len(todo))
    people = [
        (user_ids[2 * k + j], n, email, name, role)
        for k, n in enumerate(todo)
        for j, (email, name, role) in enumerate(
            (
                (editor_email(n, domain), f"{slug(n)} partner_editor", Role.partner_editor),
                (gm_email(n, domain), f"{slug(n)} partner_manager", Role.partner_manager),
            )
        )
    ]
    write_rows(
        session,
        "user",
        (
            "id brand_id email full_name password_hash is_active failed_logins locked_until "
            "session_generation created_at"
        ),
        (
            (uid, brand_id, email, name, pw, True, 0, None, 0, now)
            for uid, _, email, name, _ in people
        ),
    )
    write_rows(
        session,
        "membership",
        "user_id brand_id role scope_type region_id partner_id created_at",
        (
            (uid, brand_id, role.value, ScopeType.partner.value, None, partner_ids[n], now)
            for uid, n, _, _, role in people
        ),
    )
    write_rows(
        session,
        "segment",
        "brand_id partner_id name filter created_by created_at updated_at",
        (
            (brand_id, partner_ids[n], name, flt, None, now, now)
            for n in todo
            for name, flt in _SEGMENTS
        ),
    )
    suppressed: list[tuple[int, str]] = []

    def contact_rows() -> Iterator[tuple[object, ...]]:
        for n in todo:
            pid = partner_ids[n]
            s = slug(n)
            locale = CITIES[n % len(CITIES)][2]
            for i in range(contacts_per_partner):
                h = (n * 2654435761 + i * 40503) & 0xFFFFFFFF
                first, last = FIRST[h % 20], LAST[(h >> 5) % 15]
                email = f"{first}.{last}.{s}.{i}@{DOMAINS[(h >> 9) % 3]}".lower().replace(" ", "")
                roll = (h >> 12) % 100
                if roll < 80:
                    consent, source = "granted", "club sign-up form"
                    at: datetime | None = _SINCE + timedelta(days=(h >> 3) % 600)
                elif roll < 90:
                    consent, source, at = "unknown", "", None
                else:
                    consent, source = "denied", "club sign-up form"
                    at = _SINCE + timedelta(days=(h >> 3) % 600)
                if (h >> 20) % 100 == 0:
                    suppressed.append((pid, email))
                yield (
                    brand_id, pid, email, f"{first} {last}",
                    locale if (h >> 16) % 100 < 85 else "en", consent, source, at,
                    _TAG_SETS[(h >> 7) % len(_TAG_SETS)], _ATTRS[(h >> 11) % len(_ATTRS)],
                    None, now, now,
                )  # fmt: skip

    with indexes_rebuilt_after(session, "contact", len(todo) * contacts_per_partner):
        contacts = write_rows(
            session,
            "contact",
            (
                "brand_id partner_id email name locale consent_status consent_source consent_at "
                "tags attributes import_mark created_at updated_at"
            ),
            contact_rows(),
        )
    write_rows(
        session,
        "suppression",
        "brand_id partner_id email reason source detail created_by created_at",
        (
            (brand_id, pid, email, "unsubscribed", "seed", "generated data", None, now)
            for pid, email in suppressed
        ),
    )
    analyze(session, "partner", "user", "membership", "segment", "contact", "suppression")
    return NetworkSeeded(
        brand_id=brand_id,
        regions=len(regions),
        partners_added=len(todo),
        partners_total=len(have) + len(todo),
        users_added=len(people),
        contacts_added=contacts,
        suppressed_added=len(suppressed),
    )
