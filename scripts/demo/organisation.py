"""The demo organisation seeded by `make up` (dev mode only); idempotent by natural keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, select

from core.security import hash_password
from domain.roles import Role, ScopeType
from domain.states import TemplateState
from domain.workflow_ids import template_workflow_id
from models.base import utcnow
from models.org import Brand, Membership, Partner, Region, User
from models.templates import Template, TemplateVersion
from scripts.demo.blocks import seed_demo_blocks
from scripts.demo.sender import seed_demo_sender
from scripts.demo.templates import CONTENT_BUILDERS, DEMO_TEMPLATES, PUBLISHED
from services.brand_blocks import snapshot as blocks_snapshot

M = TypeVar("M", bound=SQLModel)
DEMO_PASSWORD = "demo-password"


@dataclass(frozen=True)
class DemoPartner:
    slug: str
    name: str
    city: str
    country: str
    locale: str
    timezone: str
    street: str
    postal_code: str
    phone: str


@dataclass(frozen=True)
class DemoBrand:
    slug: str
    name: str
    domain: str
    palette: tuple[str, ...]
    regions: dict[str, tuple[DemoPartner, ...]]
    region_managers: dict[str, str]  # region name -> local part of the manager's email
    brand_users: dict[str, Role]  # local part -> role
    partner_roles: tuple[tuple[str, Role], ...]  # email prefix -> role, per partner
    timezone: str = "Europe/Amsterdam"  # HQ's clock


def _p(
    slug: str, city: str, country: str, locale: str, tz: str, street: str, zipc: str
) -> DemoPartner:
    return DemoPartner(
        slug=slug,
        name=city,
        city=city,
        country=country,
        locale=locale,
        timezone=tz,
        street=street,
        postal_code=zipc,
        phone="+00 100 200 300",
    )


NORTHWIND = DemoBrand(
    slug="northwind",
    name="Northwind Fitness",
    domain="northwind.example",
    palette=("#0B3D91", "#FFFFFF", "#F2A900", "#1A1A1A"),
    regions={
        "North": (
            _p("amsterdam", "Amsterdam", "NL", "nl", "Europe/Amsterdam", "Damrak 1", "1012 LG"),
            _p("berlin", "Berlin", "DE", "de", "Europe/Berlin", "Unter den Linden 5", "10117"),
            _p("hamburg", "Hamburg", "DE", "de", "Europe/Berlin", "Jungfernstieg 7", "20354"),
        ),
        "South": (
            _p("munich", "Munich", "DE", "de", "Europe/Berlin", "Marienplatz 2", "80331"),
            _p("vienna", "Vienna", "AT", "de", "Europe/Vienna", "Graben 10", "1010"),
            _p("zurich", "Zurich", "CH", "de", "Europe/Zurich", "Bahnhofstrasse 20", "8001"),
        ),
    },
    region_managers={"North": "north", "South": "south"},
    brand_users={
        "admin": Role.brand_admin,
        "marketing": Role.brand_marketer,
        "brand": Role.brand_reviewer,
        "brand2": Role.brand_reviewer,  # brand review may be "any one of two reviewers"
        "ops": Role.viewer,
    },
    partner_roles=(("editor", Role.partner_editor), ("gm", Role.partner_manager)),
)

CONTOSO = DemoBrand(
    slug="contoso",
    name="Contoso Motors",
    domain="contoso.example",
    palette=("#B00020", "#FFFFFF", "#333333"),
    regions={
        "Benelux": (
            _p(
                "rotterdam", "Rotterdam", "NL", "nl", "Europe/Amsterdam", "Coolsingel 40", "3011 AD"
            ),
            _p("antwerp", "Antwerp", "BE", "nl", "Europe/Brussels", "Meir 50", "2000"),
        ),
        "Alps": (
            _p(
                "innsbruck",
                "Innsbruck",
                "AT",
                "de",
                "Europe/Vienna",
                "Maria-Theresien-Str 3",
                "6020",
            ),
        ),
    },
    region_managers={},
    brand_users={"admin": Role.brand_admin},
    partner_roles=(("gm", Role.partner_manager),),
)

DEMO_BRANDS = (NORTHWIND, CONTOSO)


# People's names for the demo users (by email local part), fitting each partner's country;
# emails stay as they are (tests and the README sign in with them).
DEMO_NAMES: dict[str, str] = {
    "admin@northwind.example": "Marieke Jansen, Northwind HQ",
    "marketing@northwind.example": "Tom Hendriks, Northwind HQ",
    "brand@northwind.example": "Eva Smit, Northwind HQ",
    "brand2@northwind.example": "Ruben Mulder, Northwind HQ",
    "ops@northwind.example": "Iris Koster, Northwind HQ",
    "north@northwind.example": "Pieter van Dijk, Region North",
    "south@northwind.example": "Julia Brandt, Region South",
    "editor.amsterdam@northwind.example": "Sanne de Vries, Amsterdam",
    "gm.amsterdam@northwind.example": "Daan Bakker, Amsterdam",
    "editor.berlin@northwind.example": "Lena Schmidt, Berlin",
    "gm.berlin@northwind.example": "Jonas Weber, Berlin",
    "editor.hamburg@northwind.example": "Anna Fischer, Hamburg",
    "gm.hamburg@northwind.example": "Felix Wagner, Hamburg",
    "editor.munich@northwind.example": "Sophie Huber, Munich",
    "gm.munich@northwind.example": "Maximilian Bauer, Munich",
    "editor.vienna@northwind.example": "Katharina Gruber, Vienna",
    "gm.vienna@northwind.example": "Lukas Pichler, Vienna",
    "editor.zurich@northwind.example": "Laura Meier, Zurich",
    "gm.zurich@northwind.example": "Noah Keller, Zurich",
    "admin@contoso.example": "Joost de Wit, Contoso HQ",
    "gm.rotterdam@contoso.example": "Bram Visser, Rotterdam",
    "gm.antwerp@contoso.example": "Lotte Peeters, Antwerp",
    "gm.innsbruck@contoso.example": "Matthias Hofer, Innsbruck",
}


def _get_or_add(session: Session, model: type[M], where: dict[str, Any], **values: Any) -> M:
    stmt = select(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    row = session.exec(stmt).first()
    if row is None:
        row = model(**where, **values)
        session.add(row)
        session.flush()
    return row


def seed_demo(session: Session, password_hash: str | None = None) -> list[tuple[str, str]]:
    """Create (or complete) the demo organisation; returns (email, role) for the README/banner.

    All demo users share one password, so one argon2 hash serves them all.
    """
    password_hash = password_hash or hash_password(DEMO_PASSWORD)
    logins: list[tuple[str, str]] = []
    for spec in DEMO_BRANDS:
        brand = _get_or_add(
            session,
            Brand,
            {"slug": spec.slug},
            name=spec.name,
            palette=list(spec.palette),
            timezone=spec.timezone,
        )

        def user(local: str, legacy: str, brand: Brand = brand, spec: DemoBrand = spec) -> User:
            email = f"{local}@{spec.domain}"
            full_name = DEMO_NAMES.get(email, legacy)
            row = _get_or_add(
                session,
                User,
                {"email": email},
                brand_id=brand.id,
                full_name=full_name,
                password_hash=password_hash,
            )
            if row.full_name == legacy != full_name:  # seeded before people had names
                row.full_name = full_name
                session.add(row)
            return row

        def grant(
            u: User, role: Role, scope: ScopeType, brand: Brand = brand, **ids: int | None
        ) -> None:
            _get_or_add(
                session,
                Membership,
                {
                    "user_id": u.id,
                    "role": role.value,
                    "scope_type": scope.value,
                    "region_id": ids.get("region_id"),
                    "partner_id": ids.get("partner_id"),
                },
                brand_id=brand.id,
            )
            logins.append((u.email, role.value))

        for local, role in spec.brand_users.items():
            grant(user(local, f"{spec.name} {role.value}"), role, ScopeType.brand)
        for region_name, partners in spec.regions.items():
            region = _get_or_add(session, Region, {"brand_id": brand.id, "name": region_name})
            manager = spec.region_managers.get(region_name)
            if manager:
                grant(
                    user(manager, f"{region_name} region manager"),
                    Role.region_manager,
                    ScopeType.region,
                    region_id=region.id,
                )
            for dp in partners:
                partner = _get_or_add(
                    session,
                    Partner,
                    {"brand_id": brand.id, "slug": dp.slug},
                    region_id=region.id,
                    display_name=f"{spec.name} {dp.name}",
                    street=dp.street,
                    postal_code=dp.postal_code,
                    city=dp.city,
                    country=dp.country,
                    phone=dp.phone,
                    email=f"{dp.slug}@{spec.domain}",
                    website=f"https://{spec.domain}/{dp.slug}",
                    opening_hours="Mon-Fri 07:00-22:00, Sat-Sun 09:00-18:00",
                    locale=dp.locale,
                    timezone=dp.timezone,
                )
                for prefix, role in spec.partner_roles:
                    grant(
                        user(f"{prefix}.{dp.slug}", f"{dp.name} {role.value}"),
                        role,
                        ScopeType.partner,
                        partner_id=partner.id,
                    )
        if spec is NORTHWIND:
            brand.restricted_words = ["guaranteed", "cheapest", "miracle"]
            brand.restricted_patterns = [r"\b\d{2,3}\s?% off\b"]
            session.add(brand)
            _seed_templates(session, brand, spec)
            seed_demo_sender(session, brand)
    return logins


def _seed_templates(session: Session, brand: Brand, spec: DemoBrand) -> None:
    """Published demo versions are projected as published; their workflow is started (adopting
    that state) the first time someone acts on them."""
    by_email = {
        u.email: u for u in session.exec(select(User).where(User.brand_id == brand.id)).all()
    }
    author = by_email[f"marketing@{spec.domain}"]
    reviewer = by_email[f"brand@{spec.domain}"]
    assert brand.id is not None and author.id is not None
    seed_demo_blocks(session, brand, author.id)
    blocks = blocks_snapshot(session, brand.id)
    for name, description, key in DEMO_TEMPLATES:
        template = _get_or_add(
            session,
            Template,
            {"brand_id": brand.id, "name": name},
            description=description,
            created_by=author.id,
        )
        published = key in PUBLISHED
        template_id = template.id
        assert template_id is not None
        _get_or_add(
            session,
            TemplateVersion,
            {"template_id": template.id, "number": 1},
            brand_id=brand.id,
            state=TemplateState.published if published else TemplateState.draft,
            content=CONTENT_BUILDERS[key]().model_dump(mode="json"),
            blocks=blocks,
            author_id=author.id,
            submitted_by=author.id if published else None,
            decided_by=reviewer.id if published else None,
            published_at=utcnow() if published else None,
            workflow_id=template_workflow_id(template_id, 1, secrets.token_hex(4)),
        )
