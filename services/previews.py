"""Previews of a template version with given values, exactly as recipients would get them.

One place for the validate-resolve-render sequence, so the API's preview routes and the
portal's live preview cannot drift apart. A template the sandbox refuses (a limit, a security
rule, a syntax error) is the author's to fix: a 422 naming the part and the line.

The SMS preview is the text as the recipient reads it in one language, the opt-out line added,
with its size (content.sms_segments): what the portal's live counter shows. Links stay as
written: the send shortens them through the tracking redirect (docs/sms.md)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlmodel import Session

from content.render import (
    RenderError,
    render_email,
    render_pdf,
    render_print_html,
    render_sms,
)
from content.sms_segments import measure
from content.sms_text import with_opt_out
from content.spec import ValidationContext
from content.validate import resolve_values, validate_values
from core.errors import FieldError, Problem
from core.policy import Principal
from core.settings import Settings
from i18n.translate import gettext as _
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


@dataclass(frozen=True)
class SmsPreview:
    """An SMS as its recipient reads it, and what it costs in segments."""

    text: str
    encoding: str  # GSM-7 or UCS-2
    characters: int
    segments: int
    remaining: int  # characters (septets / code units) left in the last segment
    locale: str


def context(
    session: Session,
    principal: Principal,
    version: TemplateVersion,
    body: ValuesBody,
    fallback_locale: str | None = None,
) -> ValidationContext:
    """`fallback_locale`: the partner campaign's language, for per-language values the
    partner left empty in body.locale."""
    content = svc.content_of(version)
    if body.locale not in content.locales:
        raise FieldError("locale", f"this template has locales {', '.join(content.locales)}")
    partner = svc.partner_for_preview(session, principal, body.partner_id)
    ctx = svc.validation_context(
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
    return ctx.model_copy(update={"fallback_locale": fallback_locale})


def sms_preview(
    session: Session,
    settings: Settings,
    principal: Principal,
    version: TemplateVersion,
    body: ValuesBody,
    fallback_locale: str | None = None,
) -> SmsPreview:
    """The SMS in body.locale with body.values (saved or not); 422 naming each invalid field,
    or when the template has no SMS variant."""
    content = svc.content_of(version)
    if content.sms is None:
        raise FieldError("format", "this template has no SMS variant")
    try:
        resolved, render_ctx = _prepared(
            session, settings, principal, version, body, fallback_locale
        )
        text = render_sms(_key(version, body), content, resolved, render_ctx)
    except RenderError as err:
        raise TemplateRefused(err) from err
    return measured(text, body.locale)


def counter_words(sms: SmsPreview) -> str:
    """What the counter under an SMS says: "2 SMS · GSM-7 · 145 left"."""
    return _(
        "%(segments)s SMS · %(encoding)s · %(left)s left",
        segments=sms.segments,
        encoding=sms.encoding,
        left=sms.remaining,
    )


def measured(text: str, locale: str) -> SmsPreview:
    """`text` with the opt-out line in `locale`, and its size."""
    text = with_opt_out(text, locale)
    size = measure(text)
    return SmsPreview(
        text=text,
        encoding=size.encoding,
        characters=size.characters,
        segments=size.segments,
        remaining=size.remaining,
        locale=locale,
    )


def render_preview(
    session: Session,
    settings: Settings,
    principal: Principal,
    version: TemplateVersion,
    body: ValuesBody,
    fmt: str,
    fallback_locale: str | None = None,
) -> Rendered:
    """The email as HTML or text, the SMS (JSON: SmsPreview) or the first print size as PDF,
    in body.locale; 422 naming each invalid field, or the part and line of the template the
    sandbox refused."""
    if fmt == "sms":
        preview = sms_preview(session, settings, principal, version, body, fallback_locale)
        return Rendered(json.dumps(asdict(preview)), "application/json")
    try:
        return _render(session, settings, principal, version, body, fmt, fallback_locale)
    except RenderError as err:
        raise TemplateRefused(err) from err


def _key(version: TemplateVersion, body: ValuesBody) -> str:
    return f"version-{version.id}-{version.updated_at.isoformat()}-{body.locale}"


def _prepared(
    session: Session,
    settings: Settings,
    principal: Principal,
    version: TemplateVersion,
    body: ValuesBody,
    fallback_locale: str | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validated, resolved values and the render context (the sample recipient speaking
    body.locale, so fragments follow the chosen language)."""
    content = svc.content_of(version)
    ctx = context(session, principal, version, body, fallback_locale)
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
    render_ctx["recipient"] = {**render_ctx["recipient"], "locale": body.locale}
    image_url = brand_blocks.block_image_url(session, settings, version.brand_id)
    render_ctx["blocks"] = brand_blocks.blocks_for(session, version, image_url)
    return resolved, render_ctx


def _render(
    session: Session,
    settings: Settings,
    principal: Principal,
    version: TemplateVersion,
    body: ValuesBody,
    fmt: str,
    fallback_locale: str | None,
) -> Rendered:
    content = svc.content_of(version)
    resolved, render_ctx = _prepared(session, settings, principal, version, body, fallback_locale)
    key = _key(version, body)
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
