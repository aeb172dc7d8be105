"""Rows and specs the journey design tests share: the demo's published Open day version (an
email variant; its event_date slot must be given), a birthday journey's spec, journeys written
straight to the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from domain.journeys import ActivationState, EnrolmentState, JourneyState
from domain.states import DeliveryStatus, TemplateState
from models.journeys import (
    Journey,
    JourneyActivation,
    JourneyEnrolment,
    JourneySend,
    JourneyVersion,
)
from models.org import Partner, User
from models.templates import Template, TemplateVersion

GM = "gm.amsterdam@northwind.example"
EDITOR = "editor.amsterdam@northwind.example"
GM_HAMBURG = "gm.hamburg@northwind.example"
MARKETER = "marketing@northwind.example"
ADMIN = "admin@northwind.example"
NORTH = "north@northwind.example"


def open_day_version(engine: Engine) -> int:
    with Session(engine) as s:
        template = s.exec(select(Template).where(Template.name == "Open day")).one()
        version = s.exec(
            select(TemplateVersion).where(
                TemplateVersion.template_id == template.id,
                TemplateVersion.state == TemplateState.published,
            )
        ).first()
        assert version is not None and version.id is not None
        return version.id


def draft_version(engine: Engine) -> int:
    with Session(engine) as s:
        version = s.exec(
            select(TemplateVersion).where(TemplateVersion.state == TemplateState.draft)
        ).first()
        assert version is not None and version.id is not None
        return version.id


def birthday_spec(version_id: int) -> dict[str, Any]:
    """On the birthday at 09:00: the greeting, three days later a reminder to those who did
    not open it."""
    return {
        "trigger": {"kind": "date_attribute", "attribute": "birthday", "local_time": "09:00"},
        "entry": "greet",
        "steps": [
            {"id": "greet", "kind": "send", "template_version_id": version_id, "next": "pause"},
            {"id": "pause", "kind": "wait", "days": 3, "next": "opened"},
            {
                "id": "opened",
                "kind": "branch",
                "on": "opened",
                "then": "done",
                "otherwise": "remind",
            },
            {"id": "remind", "kind": "send", "template_version_id": version_id},
            {"id": "done", "kind": "end"},
        ],
        "exit": {"converted_attribute": None},
    }


def event_day() -> str:
    return (datetime.now(UTC) + timedelta(days=8)).date().isoformat()


def content(**extra: str) -> dict[str, dict[str, str]]:
    """Amsterdam's content: both send steps need the Open day's event date."""
    values = {"event_date": event_day(), "headline": "Happy birthday from Amsterdam", **extra}
    return {"greet": values, "remind": {"event_date": event_day()}}


def user_id(engine: Engine, email: str) -> int:
    with Session(engine) as s:
        return s.exec(select(User).where(User.email == email)).one().id or 0


def partner(engine: Engine, slug: str = "amsterdam") -> Partner:
    with Session(engine) as s:
        found = s.exec(select(Partner).where(Partner.slug == slug)).one()
        s.expunge(found)
        return found


def journey_row(
    engine: Engine, version_id: int, state: JourneyState = JourneyState.published, key: str = "bd"
) -> int:
    with Session(engine) as s:
        admin = s.exec(select(User).where(User.email == ADMIN)).one()
        journey = Journey(
            brand_id=admin.brand_id,
            key=key,
            name="Birthday",
            state=state,
            created_by=admin.id or 0,
        )
        s.add(journey)
        s.flush()
        s.add(
            JourneyVersion(
                journey_id=journey.id or 0,
                version=1,
                spec=birthday_spec(version_id),
                created_by=admin.id or 0,
            )
        )
        s.commit()
        return journey.id or 0


def activation_row(
    engine: Engine,
    journey_id: int,
    slug: str = "amsterdam",
    state: ActivationState = ActivationState.active,
) -> int:
    p = partner(engine, slug)
    with Session(engine) as s:
        row = JourneyActivation(
            brand_id=p.brand_id,
            region_id=p.region_id,
            partner_id=p.id or 0,
            journey_id=journey_id,
            version=1,
            state=state,
            workflow_id=f"journey-activation-test-{journey_id}-{slug}",
        )
        s.add(row)
        s.commit()
        return row.id or 0


def run_side_rows(
    engine: Engine,
    journey_id: int,
    activation_id: int,
    version_id: int,
    enrolments: dict[EnrolmentState, int],
    sends: dict[DeliveryStatus, int],
) -> None:
    """Enrolments and sends as the run side writes them (contacts need not exist for counts)."""
    with Session(engine) as s:
        row = s.get(JourneyActivation, activation_id)
        assert row is not None
        n = 0
        first: int | None = None
        for state, count in enrolments.items():
            for _ in range(count):
                n += 1
                e = JourneyEnrolment(
                    brand_id=row.brand_id,
                    partner_id=row.partner_id,
                    journey_id=journey_id,
                    activation_id=activation_id,
                    contact_id=10_000 + n,
                    occurrence="2026-12-03",
                    state=state,
                )
                s.add(e)
                s.flush()
                first = first or e.id
        assert first is not None
        m = 0
        for status, count in sends.items():
            for _ in range(count):
                m += 1
                s.add(
                    JourneySend(
                        brand_id=row.brand_id,
                        partner_id=row.partner_id,
                        journey_id=journey_id,
                        activation_id=activation_id,
                        enrolment_id=first,
                        step_id="greet",
                        contact_id=20_000 + m,
                        occurrence="2026-12-03",
                        template_version_id=version_id,
                        status=status,
                    )
                )
        s.commit()
