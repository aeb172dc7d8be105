"""The demo's campaign catalogue: Northwind's "Open day" for every partner and a summer open
day for the South region only, both published, so `make up` shows partners a catalogue to
order from (and North's partners not the South's item).

Idempotent by title: a re-seed adds only a missing item and keeps what HQ changed since."""

from __future__ import annotations

from sqlmodel import Session, col, select

from domain.catalogue import CatalogueState
from domain.states import TemplateState
from models.base import utcnow
from models.catalogue import CatalogueItem
from models.org import Brand, Region, User
from models.templates import Template, TemplateVersion

BRAND = "northwind"
ITEMS: tuple[tuple[str, str, int, int, str | None, int], ...] = (
    # title, description, personalise days, send within days, region (None: all), budget
    (
        "Open day",
        "Invite your members and their friends to a free day at the club. Add your date, "
        "opening hours and offer; your GM approves it before it goes out.",
        7,
        14,
        None,
        25000,
    ),
    (
        "Summer open day (South)",
        "The open day for the South's summer season, with outdoor classes.",
        5,
        10,
        "South",
        15000,
    ),
)


def seed_demo_catalogue(session: Session) -> list[CatalogueItem]:
    """The demo items (none when the demo brand or its Open day template is missing)."""
    brand = session.exec(select(Brand).where(Brand.slug == BRAND)).first()
    marketer = session.exec(select(User).where(User.email == f"marketing@{BRAND}.example")).first()
    if brand is None or marketer is None or marketer.id is None:
        return []
    version = session.exec(
        select(TemplateVersion)
        .join(Template, col(Template.id) == col(TemplateVersion.template_id))
        .where(
            Template.brand_id == brand.id,
            Template.name == "Open day",
            TemplateVersion.state == TemplateState.published,
        )
        .order_by(col(TemplateVersion.number).desc())
    ).first()
    if version is None or version.id is None:
        return []
    made = []
    for title, description, days, within, region_name, budget in ITEMS:
        found = session.exec(
            select(CatalogueItem).where(
                CatalogueItem.brand_id == brand.id, CatalogueItem.title == title
            )
        ).first()
        if found is not None:
            made.append(found)
            continue
        regions: list[int] = []
        if region_name is not None:
            region = session.exec(
                select(Region).where(Region.brand_id == brand.id, Region.name == region_name)
            ).first()
            if region is None or region.id is None:
                continue
            regions = [region.id]
        item = CatalogueItem(
            brand_id=brand.id or 0,
            title=title,
            description=description,
            template_version_id=version.id,
            personalise_days=days,
            send_within_days=within,
            budget_hint_minor=budget,
            budget_currency="EUR",
            region_ids=regions,
            state=CatalogueState.published,
            published_at=utcnow(),
            created_by=marketer.id,
        )
        session.add(item)
        made.append(item)
    session.flush()
    return made
