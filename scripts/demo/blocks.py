"""The demo brand's header and footer blocks (content.blocks), which the "Open day" email
includes."""

from __future__ import annotations

from sqlmodel import Session, select

from content.blocks import BlockKind, FooterBlock, HeaderBlock, SocialLink
from models.blocks import BrandBlock
from models.org import Brand

NORTHWIND_HEADER = HeaderBlock(
    brand_name="Northwind Fitness",
    tagline="Stronger together, in every club",
    logo_asset="ast_logo0001",
)
NORTHWIND_FOOTER = FooterBlock(
    legal_text=(
        "Northwind Fitness GmbH, Hauptstrasse 1, 10115 Berlin.\n"
        "Registered at Amtsgericht Berlin-Charlottenburg, HRB 123456. VAT ID DE123456789."
    ),
    address="Northwind Fitness GmbH · Hauptstrasse 1 · 10115 Berlin · Germany",
    links=[
        SocialLink(label="Instagram", url="https://instagram.com/northwindfitness"),
        SocialLink(label="Facebook", url="https://facebook.com/northwindfitness"),
        SocialLink(label="YouTube", url="https://youtube.com/@northwindfitness"),
    ],
)


def seed_demo_blocks(session: Session, brand: Brand, author_id: int) -> int:
    """Adds the blocks the brand lacks (a re-run adds nothing, and an HQ edit is kept);
    returns how many were added."""
    assert brand.id is not None
    have = set(session.exec(select(BrandBlock.kind).where(BrandBlock.brand_id == brand.id)).all())
    added = 0
    for kind, block in ((BlockKind.header, NORTHWIND_HEADER), (BlockKind.footer, NORTHWIND_FOOTER)):
        if kind.value in have:
            continue
        session.add(
            BrandBlock(
                brand_id=brand.id,
                kind=kind.value,
                content=block.model_dump(mode="json"),
                updated_by=author_id,
            )
        )
        added += 1
    session.flush()
    return added
