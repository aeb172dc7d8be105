"""Previews of a template version with given values, exactly as recipients would get them.

One place for the validate-resolve-render sequence, so the API's preview routes and the
portal's live preview cannot drift apart. A template the sandbox refuses (a limit, a security
rule, a syntax error) is the author's to fix: a 422 naming the part and the line."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from content.render import RenderError, render_email, render_pdf, render_print_html
from content.spec import ValidationContext
from content.validate import resolve_values, validate_values
from core.errors import FieldError, Problem
from core.policy import Principal
from core.settings import Settings
from models.base import utcnow
from models.template_schemas import ValuesBody
from models.templates import TemplateVersion
from services import asset_publication as images
from services import brand_blocks
from services import templates as svc


class TemplateRefused(Problem):
    """The sandbox refused the template itself; `errors` names the part (email.html, ...)."""

    status = 422
    title = "Template cannot be rendered"

    def __init__(self, err: RenderError) -> None:
        field = err.part or "content"
        message = f"line {err.line}: {err.reason}" if err.line else err.reason
        super().__init__(f"{field}, {message}", errors=[{"field": field, "message": message}])


@dataclass(frozen=True)
class Rendered:
    body: bytes | str
    media_type: str


def context(
    session: Session, principal: Principal, version: TemplateVersion, body: ValuesBody
) -> ValidationContext:
    content = svc.content_of(version)
    if body.locale not in content.locales:
        raise FieldError("locale", f"this template has locales {', '.join(content.locales)}")
    partner = svc.partner_for_preview(session, principal, body.partner_id)
    return svc.validation_context(
        session,
        version.brand_id,
        partner,
        body.locale,
        body.window_start,
        body.window_end,
        content=content,
        values=body.values,
        today=utcnow().date(),
    )


def render_preview(
    session: Session,
    settings: Settings,
    principal: Principal,
    version: TemplateVersion,
    body: ValuesBody,
    fmt: str,
) -> Rendered:
    """The email as HTML or text, or the first print size as PDF; 422 naming each invalid
    field, or the part and line of the template the sandbox refused."""
    try:
        return _render(session, settings, principal, version, body, fmt)
    except RenderError as err:
        raise TemplateRefused(err) from err


def _render(
    session: Session,
    settings: Settings,
    principal: Principal,
    version: TemplateVersion,
    body: ValuesBody,
    fmt: str,
) -> Rendered:
    content = svc.content_of(version)
    ctx = context(session, principal, version, body)
    errors = validate_values(content, body.values, ctx)
    if errors:
        raise Problem(
            "; ".join(e.message for e in errors),
            status=422,
            title="Invalid values",
            errors=[e.model_dump() for e in errors],
        )
    resolved = resolve_values(content, body.values, ctx)
    partner = svc.partner_for_preview(session, principal, body.partner_id)
    render_ctx = svc.render_context(session, version.brand_id, partner, settings.public_base_url)
    image_url = brand_blocks.block_image_url(session, settings, version.brand_id)
    render_ctx["blocks"] = brand_blocks.blocks_for(session, version, image_url)
    key = f"version-{version.id}-{version.updated_at.isoformat()}-{body.locale}"
    store = images.store_for(settings)
    if fmt == "pdf":
        if content.print is None:
            raise FieldError("format", "this template has no print variant")
        # The full-resolution originals, read from the store while the PDF is laid out.
        found = images.print_images(session, store, content, resolved, brand_id=version.brand_id)
        resolved = images.with_images(content, resolved, found.refs)
        logo = images.print_image_url(session, store, version.brand_id, found.files)
        render_ctx["blocks"] = brand_blocks.blocks_for(session, version, logo)
        html = render_print_html(key, content, resolved, render_ctx, content.print.sizes[0])
        return Rendered(render_pdf(html, files=found.files), "application/pdf")
    if content.email is None:
        raise FieldError("format", "this template has no email variant")
    # A preview publishes nothing: its images are signed links that expire.
    refs = images.image_refs(
        session,
        settings,
        store,
        content,
        resolved,
        brand_id=version.brand_id,
        publish_images=False,
    )
    resolved = images.with_images(content, resolved, refs)
    email = render_email(key, content, resolved, render_ctx)
    if fmt == "text":
        return Rendered(email.text, "text/plain; charset=utf-8")
    return Rendered(email.html, "text/html; charset=utf-8")
