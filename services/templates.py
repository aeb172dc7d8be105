"""Templates and versions in the database: create, copy to a new draft, edit while editable,
and the context that validation and previews use."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, col, select

from content.spec import BrandRules, SlotKind, TemplateContent, ValidationContext
from content.validate import asset_ids
from core.errors import Conflict, FieldError, NotFound
from core.policy import Permission, Principal
from domain.states import TEMPLATE_EDITABLE, TemplateState
from domain.workflow_ids import template_workflow_id
from models.base import utcnow
from models.org import Brand, Partner, as_profile
from models.template_schemas import TemplateCreate, VersionCreate
from models.templates import Template, TemplateVersion
from services import brand_blocks
from services.access import load
from services.assets import asset_facts
from services.org import Actor, record, snapshot
from services.paging import Key, Listing, Paged, PageRequest, fetch

SAMPLE_RECIPIENT = {
    "first_name": "Alex",
    "last_name": "Sample",
    "email": "alex.sample@example.com",
    "locale": "en",
}


TEMPLATES = Listing(
    "templates",
    col(Template.id),
    {
        "id": Key(col(Template.id), "int"),
        "name": Key(col(Template.name), "str"),
        "created_at": Key(col(Template.created_at), "datetime"),
    },
    default="id",
)


def list_templates(
    session: Session,
    principal: Principal,
    paging: PageRequest,
    q: str | None = None,
    sort: str = TEMPLATES.default,
) -> Paged[Template]:
    stmt = select(Template).where(Template.brand_id == principal.brand_id)
    if q:
        stmt = stmt.where(col(Template.name).ilike(f"%{q}%"))
    return fetch(session, stmt, TEMPLATES, sort, paging)


def versions_of(session: Session, template_id: int) -> list[TemplateVersion]:
    return list(
        session.exec(
            select(TemplateVersion)
            .where(TemplateVersion.template_id == template_id)
            .order_by(col(TemplateVersion.number))
        ).all()
    )


def create_template(
    session: Session, actor: Actor, body: TemplateCreate
) -> tuple[Template, TemplateVersion]:
    principal = actor.principal
    template = Template(
        brand_id=principal.brand_id,
        name=body.name,
        description=body.description,
        created_by=principal.user_id,
    )
    session.add(template)
    session.flush()
    record(session, actor, "template.created", template, None, snapshot(template))
    version = _add_version(session, actor, template, body.content or TemplateContent(), 1)
    return template, version


def new_version(
    session: Session, actor: Actor, template_id: int, body: VersionCreate
) -> TemplateVersion:
    template = load(
        session,
        actor.principal,
        Template,
        template_id,
        Permission.template_author,
        read=Permission.template_read,
    )
    versions = versions_of(session, template_id)
    open_ = [v for v in versions if v.state in {*TEMPLATE_EDITABLE, TemplateState.in_review}]
    if open_:
        raise Conflict(
            f"version {open_[0].number} is still {open_[0].state}; "
            "finish or reject it before starting another"
        )
    content = body.content or TemplateContent.model_validate(versions[-1].content)
    return _add_version(session, actor, template, content, versions[-1].number + 1)


def _add_version(
    session: Session, actor: Actor, template: Template, content: TemplateContent, number: int
) -> TemplateVersion:
    assert template.id is not None
    version = TemplateVersion(
        template_id=template.id,
        brand_id=template.brand_id,
        number=number,
        state=TemplateState.draft,
        content=content.model_dump(mode="json"),
        blocks=brand_blocks.snapshot(session, template.brand_id),
        author_id=actor.principal.user_id,
        workflow_id=template_workflow_id(template.id, number, secrets.token_hex(4)),
    )
    session.add(version)
    session.flush()
    record(session, actor, "template_version.created", version, None, {"number": number})
    return version


def load_version(
    session: Session,
    principal: Principal,
    version_id: int,
    permission: Permission = Permission.template_read,
) -> TemplateVersion:
    return load(
        session,
        principal,
        TemplateVersion,
        version_id,
        permission,
        read=Permission.template_read,
        label="template version",
    )


def update_content(
    session: Session, actor: Actor, version: TemplateVersion, content: TemplateContent
) -> TemplateVersion:
    """Only drafts change; a published version is immutable (start a new version instead)."""
    if version.state not in TEMPLATE_EDITABLE:
        raise Conflict(
            f"template version {version.id} is {version.state} and can no longer be changed; "
            "create a new version to make changes"
        )
    before = {"content": version.content}
    version.content = content.model_dump(mode="json")
    version.updated_at = utcnow()
    session.add(version)
    session.flush()
    record(session, actor, "template_version.edited", version, before, {"content": version.content})
    return version


SAMPLE_BY_KIND: dict[SlotKind, Any] = {
    SlotKind.text: "Sample text",
    SlotKind.rich_text: "<p>Sample text</p>",
    SlotKind.number: 1,
    SlotKind.url: "https://example.com",
    SlotKind.phone: "+31 20 555 0100",
    SlotKind.email: "club@example.com",
    SlotKind.asset: "ast_sample0001",
}


def sample_values(content: TemplateContent, locale: str, today: date) -> dict[str, Any]:
    """Values for a preview without partner input: defaults where the slot has one, else a
    sample that satisfies the slot's constraints (dates two weeks ahead)."""
    values: dict[str, Any] = {}
    for slot in content.slots:
        if slot.locked or slot.kind == SlotKind.partner_field:
            continue
        if slot.default.get(locale) or slot.default.get("en"):
            continue
        if slot.kind == SlotKind.date:
            values[slot.name] = (today + timedelta(days=14)).isoformat()
        elif slot.kind == SlotKind.choice and slot.choices:
            values[slot.name] = slot.choices[0]
        elif slot.kind == SlotKind.color:
            values[slot.name] = "#000000"
        elif slot.required and slot.kind in SAMPLE_BY_KIND:
            values[slot.name] = SAMPLE_BY_KIND[slot.kind]
    return values


def content_of(version: TemplateVersion) -> TemplateContent:
    return TemplateContent.model_validate(version.content)


def brand_rules(brand: Brand) -> BrandRules:
    return BrandRules(
        restricted_words=list(brand.restricted_words),
        restricted_patterns=list(brand.restricted_patterns),
        palette=list(brand.palette),
        fonts=list(brand.fonts),
    )


def partner_for_preview(session: Session, principal: Principal, partner_id: int | None) -> Partner:
    if partner_id is not None:
        return load(session, principal, Partner, partner_id)
    partner = session.exec(
        select(Partner).where(Partner.brand_id == principal.brand_id).order_by(col(Partner.id))
    ).first()
    if partner is None:
        raise FieldError("partner_id", "the brand has no partner to preview with")
    return partner


def validation_context(
    session: Session,
    brand_id: int,
    partner: Partner,
    locale: str,
    window_start: date | None,
    window_end: date | None,
    *,
    content: TemplateContent,
    values: dict[str, Any],
    today: date,
) -> ValidationContext:
    """Everything validate_values needs, including the library facts of the assets in play
    (given values and defaults), checked against `today`."""
    brand = session.get(Brand, brand_id)
    if brand is None:
        raise NotFound("brand", brand_id)
    return ValidationContext(
        locale=locale,
        partner=as_profile(partner),
        partner_id=partner.id,
        partner_region_id=partner.region_id,
        window_start=window_start,
        window_end=window_end,
        brand=brand_rules(brand),
        today=today,
        assets=asset_facts(session, brand_id, asset_ids(content, values, locale)),
    )


def render_context(
    session: Session, brand_id: int, partner: Partner, public_base_url: str
) -> dict[str, Any]:
    brand = session.get(Brand, brand_id)
    assert brand is not None
    return {
        "partner": as_profile(partner),
        "recipient": SAMPLE_RECIPIENT,
        "unsubscribe_url": f"{public_base_url}/u/preview",
        "preferences_url": f"{public_base_url}/p/preview",
        "brand": {"name": brand.name, "palette": list(brand.palette)},
        "campaign": {"name": "Preview"},
    }


def versions_in_review(session: Session, principal: Principal) -> list[tuple[TemplateVersion, str]]:
    """The brand review queue: versions in review with their template's name, oldest first."""
    rows = session.exec(
        select(TemplateVersion, Template.name)
        .join(Template, col(Template.id) == col(TemplateVersion.template_id))
        .where(
            TemplateVersion.brand_id == principal.brand_id,
            TemplateVersion.state == TemplateState.in_review.value,
        )
        .order_by(col(TemplateVersion.updated_at))
    ).all()
    return [(v, name) for v, name in rows]
