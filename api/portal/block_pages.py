"""HQ settings: the brand's header and footer blocks, edited with a preview of what templates
show (through services.brand_blocks, as the API). Readers see them; template authors change
them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import or_
from sqlmodel import Session, col, select

from api.deps import RequestIdDep, SessionDep, SettingsDep
from api.portal.web import (
    PortalRoute,
    PortalTemplateAuthor,
    PortalTemplateReader,
    done_flash,
    render,
)
from content.blocks import MAX_LINKS, BlockKind, FooterBlock, HeaderBlock, render_blocks
from core.errors import Problem
from core.policy import Permission, Principal, Target, allows
from core.settings import Settings
from i18n.translate import N_, gettext
from models.assets import Asset, AssetState
from models.base import utcnow
from services import brand_blocks as svc
from services.org import Actor

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])
PAGE = "/settings/brand-blocks"
DONE = {
    "header": N_("Header saved. Templates show it from their next version on."),
    "footer": N_("Footer saved. Templates show it from their next version on."),
}


def _logos(session: Session, brand_id: int) -> list[Asset]:
    """Images HQ may use as the logo: approved brand-wide images of the brand's library whose
    licence has not expired (services.brand_blocks refuses the others)."""
    return list(
        session.exec(
            select(Asset)
            .where(
                Asset.brand_id == brand_id,
                col(Asset.partner_id).is_(None),
                Asset.state == AssetState.approved.value,
                col(Asset.content_type).startswith("image/"),
                or_(
                    col(Asset.licence_expires_on).is_(None),
                    col(Asset.licence_expires_on) >= utcnow().date(),
                ),
            )
            .order_by(col(Asset.title))
        ).all()
    )


def _form_of(kind: BlockKind, content: dict[str, Any]) -> dict[str, Any]:
    """A block's fields as the form shows them: eight link rows, blank ones included."""
    form = {key: value or "" for key, value in content.items() if key != "links"}
    if kind == BlockKind.footer:
        links = list(content.get("links", []))
        links += [{"label": "", "url": ""}] * (MAX_LINKS - len(links))
        form["links"] = links[:MAX_LINKS]
    return form


def _preview(
    session: Session,
    principal: Principal,
    kind: BlockKind,
    content: dict[str, Any],
    settings: Settings,
) -> dict[str, Any]:
    image_url = svc.block_image_url(session, settings, principal.brand_id)
    rendered = render_blocks({kind.value: {"content": content}}, image_url)
    return {"html": rendered.html.get(kind.value, ""), "text": rendered.text.get(kind.value, "")}


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    settings: Settings,
    *,
    posted: BlockKind | None = None,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    rows = svc.current(session, principal.brand_id)
    kinds = {}
    for kind in BlockKind:
        row = rows.get(kind)
        saved = dict(row.content) if row else {}
        shown = form if kind == posted and form is not None else _form_of(kind, saved)
        valid = saved if kind != posted else _valid_content(kind, shown)
        kinds[kind.value] = {
            "row": row,
            "form": shown,
            "errors": (errors or {}) if kind == posted else {},
            "preview": _preview(session, principal, kind, valid, settings) if valid else None,
        }
    return render(
        request,
        "brand_blocks.html",
        status=status,
        title=gettext("Brand header and footer"),
        kinds=kinds,
        logos=_logos(session, principal.brand_id),
        can_edit=allows(principal, Permission.template_author, Target(principal.brand_id)),
        max_links=MAX_LINKS,
        flash=done_flash(DONE, request),
    )


def _valid_content(kind: BlockKind, form: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return _model(kind, form).model_dump(mode="json")
    except ValidationError:
        return None


def _model(kind: BlockKind, form: dict[str, Any]) -> HeaderBlock | FooterBlock:
    if kind == BlockKind.header:
        return HeaderBlock.model_validate(
            {
                "brand_name": form.get("brand_name", ""),
                "tagline": form.get("tagline", ""),
                "logo_asset": form.get("logo_asset") or None,
            }
        )
    links = [link for link in form.get("links", []) if link["label"] or link["url"]]
    return FooterBlock.model_validate(
        {
            "legal_text": form.get("legal_text", ""),
            "address": form.get("address", ""),
            "links": links,
        }
    )


async def _posted(request: Request, kind: BlockKind) -> tuple[dict[str, Any], str]:
    data = await request.form()

    def text(name: str, limit: int = 3_000) -> str:
        value = data.get(name, "")
        return value[:limit] if isinstance(value, str) else ""

    if kind == BlockKind.header:
        form: dict[str, Any] = {
            "brand_name": text("brand_name").strip(),
            "tagline": text("tagline").strip(),
            "logo_asset": text("logo_asset").strip(),
        }
    else:
        rows = [
            {"label": text(f"link_label_{i}").strip(), "url": text(f"link_url_{i}").strip()}
            for i in range(MAX_LINKS)
        ]
        # Blank rows dropped, so row i of the form is links.i of the block (and of its errors).
        links = [row for row in rows if row["label"] or row["url"]]
        form = _form_of(
            kind, {"legal_text": text("legal_text"), "address": text("address").strip()}
        )
        form["links"] = links + [{"label": "", "url": ""}] * (MAX_LINKS - len(links))
    return form, text("intent")


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "form"


@router.get(PAGE, response_class=HTMLResponse)
def blocks_page(
    principal: PortalTemplateReader, request: Request, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    return _page(request, session, principal, settings)


@router.post(PAGE + "/{kind}", response_class=HTMLResponse)
async def save_block(
    principal: PortalTemplateAuthor,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    rid: RequestIdDep,
    kind: BlockKind,
) -> Response:
    """Save the block, or (intent=preview) show it without saving."""
    form, intent = await _posted(request, kind)

    def again(errors: dict[str, str], status: int = 422) -> HTMLResponse:
        return _page(
            request,
            session,
            principal,
            settings,
            posted=kind,
            form=form,
            errors=errors,
            status=status,
        )

    try:
        block = _model(kind, form)
    except ValidationError as err:
        found: dict[str, str] = {}
        for e in err.errors():
            found.setdefault(_field(tuple(e.get("loc", ()))), str(e.get("msg", "")))
        return again({k: v.removeprefix("Value error, ") for k, v in found.items()})
    if intent == "preview":
        return again({}, status=200)
    try:
        svc.put_block(session, Actor(principal, rid), kind, block)
    except Problem as err:
        if err.status in (401, 403):
            raise
        session.rollback()
        found = {str(e.get("field")): str(e.get("message")) for e in err.errors or []}
        return again(found or {"form": err.detail})
    return RedirectResponse(f"{PAGE}?done={kind.value}", status_code=303)
