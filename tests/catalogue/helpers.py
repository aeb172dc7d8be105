"""What the catalogue tests share: the demo's Open day version and a body for an item."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from models.org import Partner, Region
from models.templates import Template, TemplateVersion

EDITOR_HAM = "editor.hamburg@northwind.example"
GM_HAM = "gm.hamburg@northwind.example"
EDITOR_AMS = "editor.amsterdam@northwind.example"
MARKETING = "marketing@northwind.example"
ADMIN = "admin@northwind.example"


def open_day_version(engine: Engine) -> int:
    with Session(engine) as s:
        version = s.exec(
            select(TemplateVersion)
            .join(Template, col(Template.id) == col(TemplateVersion.template_id))
            .where(Template.name == "Open day", TemplateVersion.state == "published")
        ).first()
        assert version is not None and version.id is not None
        return version.id


def region_id(engine: Engine, name: str) -> int:
    with Session(engine) as s:
        region = s.exec(select(Region).where(Region.name == name)).first()
        assert region is not None and region.id is not None
        return region.id


def partner_id(engine: Engine, slug: str) -> int:
    with Session(engine) as s:
        partner = s.exec(select(Partner).where(Partner.slug == slug)).one()
        assert partner.id is not None
        return partner.id


def item_body(engine: Engine, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Open day",
        "description": "Invite your members' friends for a free day at the club.",
        "template_version_id": open_day_version(engine),
        "personalise_days": 7,
        "send_within_days": 14,
        "approval_policy": "gm",
        "budget_hint": "250.00",
        "budget_currency": "EUR",
        "regions": [],
    }
    body.update(changes)
    return body
