"""The demo's birthday journey: HQ's design (version 1, published), Amsterdam's activation
(active, with its greeting), and a few Amsterdam contacts whose birthday is today there, so
the first sweep after `make up` enrols them and their workflows wait for 09:00 Amsterdam time
(or send at once when that has passed) and show in the Temporal UI (JourneyId = the journey).

Rows only, idempotent (by the journey's key and the contacts' addresses); the tests, the
benchmark and the demo share `birthday_journey`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from domain.journey_time import local_date, zone
from domain.journeys import ActivationState, JourneyState, TriggerKind
from models.contacts import ConsentStatus, Contact
from models.journey_spec import JourneySpec
from models.journeys import Journey, JourneyActivation, JourneyVersion
from models.org import Brand, Partner, User
from models.templates import Template, TemplateVersion

BIRTHDAY_KEY = "birthday"
DEMO_BIRTHDAYS = (
    ("anouk.birthday@example.net", "Anouk de Vries", "nl"),
    ("jan.birthday@example.net", "Jan Bakker", "nl"),
    ("emma.birthday@example.net", "Emma Smit", "en"),
)


def birthday_spec(template_version_id: int, **trigger: Any) -> JourneySpec:
    """A greeting at the trigger's local time (09:00 unless told), then the end."""
    return JourneySpec.model_validate(
        {
            "trigger": {"kind": TriggerKind.date_attribute, "attribute": "birthday", **trigger},
            "entry": "greet",
            "steps": [
                {"id": "greet", "kind": "send", "template_version_id": template_version_id,
                 "next": "done"},
                {"id": "done", "kind": "end"},
            ],
        }
    )  # fmt: skip


def open_day_version(session: Session, brand_id: int) -> TemplateVersion:
    """The demo's published Open day template, which the greeting reuses."""
    template = session.exec(
        select(Template).where(Template.brand_id == brand_id, Template.name == "Open day")
    ).one()
    return session.exec(
        select(TemplateVersion).where(TemplateVersion.template_id == template.id)
    ).first()  # type: ignore[return-value]


def greeting_values(today: date) -> dict[str, Any]:
    return {
        "greet": {
            "headline": "Happy birthday from the club!",
            "event_date": (today + timedelta(days=10)).isoformat(),
        }
    }


def birthday_journey(
    session: Session,
    partner: Partner,
    spec: JourneySpec | None = None,
    *,
    key: str = BIRTHDAY_KEY,
    now: datetime | None = None,
) -> JourneyActivation:
    """The journey (published, version 1) and the partner's active activation; existing rows
    are returned as they are."""
    brand = session.get(Brand, partner.brand_id)
    assert brand is not None and brand.id is not None and partner.id is not None
    author = session.exec(
        select(User).where(User.brand_id == brand.id).order_by(User.id)  # type: ignore[arg-type]
    ).first()
    assert author is not None and author.id is not None
    version = open_day_version(session, brand.id)
    assert version.id is not None
    journey = session.exec(
        select(Journey).where(Journey.brand_id == brand.id, Journey.key == key)
    ).one_or_none()
    if journey is None:
        journey = Journey(
            brand_id=brand.id,
            key=key,
            name="Birthday greeting",
            description="A greeting on the contact's birthday, 09:00 at the club",
            state=JourneyState.published,
            created_by=author.id,
        )
        session.add(journey)
        session.flush()
        session.add(
            JourneyVersion(
                journey_id=journey.id or 0,
                version=1,
                spec=(spec or birthday_spec(version.id)).model_dump(mode="json"),
                created_by=author.id,
            )
        )
        session.flush()
    activation = session.exec(
        select(JourneyActivation).where(
            JourneyActivation.journey_id == journey.id,
            JourneyActivation.partner_id == partner.id,
        )
    ).one_or_none()
    if activation is None:
        at = now or datetime.now(UTC)
        activation = JourneyActivation(
            brand_id=brand.id,
            region_id=partner.region_id,
            partner_id=partner.id,
            journey_id=journey.id or 0,
            version=1,
            state=ActivationState.active,
            values=greeting_values(at.date()),
            switched_on_at=at,
            approved_at=at,
        )
        session.add(activation)
        session.flush()
    return activation


def birthday_contact(
    session: Session,
    partner: Partner,
    email: str,
    birthday: str,
    *,
    name: str = "",
    locale: str = "",
    consent: ConsentStatus = ConsentStatus.granted,
) -> Contact:
    contact = Contact(
        brand_id=partner.brand_id,
        partner_id=partner.id or 0,
        email=email,
        name=name,
        locale=locale,
        consent_status=consent.value,
        attributes={"birthday": birthday},
    )
    session.add(contact)
    session.flush()
    return contact


def seed_demo_journeys(session: Session) -> None:
    partner = session.exec(select(Partner).where(Partner.slug == "amsterdam")).first()
    if partner is None:
        return
    birthday_journey(session, partner)
    today = local_date(datetime.now(UTC), zone(partner.timezone))
    for i, (email, name, locale) in enumerate(DEMO_BIRTHDAYS):
        known = session.exec(
            select(Contact).where(Contact.partner_id == partner.id, Contact.email == email)
        ).first()
        if known is None:
            born = (
                today.replace(year=1980 + 7 * i)
                if (today.month, today.day) != (2, 29)
                else (date(1980, 2, 29))
            )
            birthday_contact(session, partner, email, born.isoformat(), name=name, locale=locale)
