"""Brand blocks: the header and footer HQ defines once and templates include
(`{{ blocks.header }}`, `{{ blocks.footer }}`). Partner roles have no access."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import Session

from api.deps import RequestIdDep, SessionDep, SettingsDep
from api.security import TemplateAuthor, TemplateReader
from content.blocks import BlockKind, FooterBlock, HeaderBlock, render_blocks
from core.settings import Settings
from models.block_schemas import BrandBlockRead
from models.blocks import BrandBlock
from services import brand_blocks as svc
from services.org import Actor

router = APIRouter(prefix="/api/v1", tags=["brand-blocks"])


def block_read(session: Session, row: BrandBlock, settings: Settings) -> BrandBlockRead:
    image_url = svc.block_image_url(session, settings, row.brand_id)
    rendered = render_blocks({row.kind: {"content": row.content}}, image_url)
    return BrandBlockRead(
        kind=row.kind,
        version=row.version,
        content=row.content,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
        html=str(rendered.html.get(row.kind, "")),
        text=rendered.text.get(row.kind, ""),
    )


@router.get(
    "/brand-blocks",
    response_model=list[BrandBlockRead],
    summary="List the brand's header and footer blocks",
)
def list_brand_blocks(
    principal: TemplateReader, session: SessionDep, settings: SettingsDep
) -> list[BrandBlockRead]:
    return [block_read(session, row, settings) for row in svc.list_blocks(session, principal)]


@router.get("/brand-blocks/{kind}", response_model=BrandBlockRead, summary="Read a brand block")
def read_brand_block(
    principal: TemplateReader, session: SessionDep, settings: SettingsDep, kind: BlockKind
) -> BrandBlockRead:
    return block_read(session, svc.get_block(session, principal, kind), settings)


@router.put(
    "/brand-blocks/header", response_model=BrandBlockRead, summary="Set the brand's email header"
)
def put_brand_header(
    principal: TemplateAuthor,
    session: SessionDep,
    rid: RequestIdDep,
    settings: SettingsDep,
    body: HeaderBlock,
) -> BrandBlockRead:
    """Replace the header; templates pick it up on their next version."""
    row = svc.put_block(session, Actor(principal, rid), BlockKind.header, body)
    return block_read(session, row, settings)


@router.put(
    "/brand-blocks/footer", response_model=BrandBlockRead, summary="Set the brand's email footer"
)
def put_brand_footer(
    principal: TemplateAuthor,
    session: SessionDep,
    rid: RequestIdDep,
    settings: SettingsDep,
    body: FooterBlock,
) -> BrandBlockRead:
    """Replace the footer; templates pick it up on their next version."""
    row = svc.put_block(session, Actor(principal, rid), BlockKind.footer, body)
    return block_read(session, row, settings)
