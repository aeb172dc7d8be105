"""HQ's side of a journey: create it with its first version, add versions (a change is a new
version; versions never change), publish, retire. Each change is one audit event."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.errors import Conflict, Forbidden, NotFound
from core.policy import Permission, Principal, Target, allows
from domain.journeys import JourneyState
from models.base import utcnow
from models.journey_schemas import JourneyCreate, JourneyVersionCreate
from models.journeys import Journey, JourneyVersion
from services.journeys import definition
from services.org import Actor, record_about


def target(journey: Journey) -> Target:
    return Target(journey.brand_id)


def visible(principal: Principal, journey: Journey) -> bool:
    """HQ sees every journey of the brand; partner and region users see the ones offered to
    partners (published or retired), never drafts."""
    if journey.brand_id != principal.brand_id:
        return False
    if allows(principal, Permission.journey_manage, target(journey)):
        return True
    return journey.state != JourneyState.draft


def load(
    session: Session, principal: Principal, journey_id: int, permission: Permission | None = None
) -> Journey:
    """404 outside the caller's reach, 403 when it may look but not act."""
    journey = session.get(Journey, journey_id)
    if journey is None or not visible(principal, journey):
        raise NotFound("journey", journey_id)
    if permission is not None and not allows(principal, permission, target(journey)):
        raise Forbidden(f"Your roles do not allow {permission.value} on journey {journey_id}")
    return journey


def versions(session: Session, journey_id: int) -> list[JourneyVersion]:
    return list(
        session.exec(
            select(JourneyVersion)
            .where(JourneyVersion.journey_id == journey_id)
            .order_by(col(JourneyVersion.version))
        ).all()
    )


def version_of(session: Session, journey_id: int, number: int) -> JourneyVersion:
    found = session.exec(
        select(JourneyVersion).where(
            JourneyVersion.journey_id == journey_id, JourneyVersion.version == number
        )
    ).first()
    if found is None:
        raise NotFound("journey version", number)
    return found


def _audit(
    session: Session, actor: Actor, action: str, journey: Journey, after: dict[str, Any]
) -> None:
    record_about(session, actor, action, target(journey), "journey", str(journey.id), None, after)


def create(session: Session, actor: Actor, body: JourneyCreate) -> Journey:
    principal = actor.principal
    spec = definition.checked(session, principal.brand_id, body.spec)
    taken = session.exec(
        select(Journey.id).where(Journey.brand_id == principal.brand_id, Journey.key == body.key)
    ).first()
    if taken is not None:
        raise Conflict(f"key: the brand has a journey '{body.key}' already")
    journey = Journey(
        brand_id=principal.brand_id,
        key=body.key,
        name=body.name,
        description=body.description,
        created_by=principal.user_id,
    )
    session.add(journey)
    try:
        session.flush()
    except IntegrityError as err:  # a concurrent create with the same key
        session.rollback()
        raise Conflict(f"key: the brand has a journey '{body.key}' already") from err
    assert journey.id is not None
    session.add(
        JourneyVersion(
            journey_id=journey.id,
            version=1,
            spec=spec.model_dump(mode="json"),
            note="first version",
            created_by=principal.user_id,
        )
    )
    _audit(session, actor, "journey.created", journey, {"key": journey.key, "version": 1})
    session.commit()
    session.refresh(journey)
    return journey


def add_version(
    session: Session, actor: Actor, journey: Journey, body: JourneyVersionCreate
) -> JourneyVersion:
    """The new version becomes the one partners switch on from now; partners running an
    older one keep it until they switch on again."""
    if journey.state == JourneyState.retired:
        raise Conflict(f"journey {journey.id} is retired: it takes no new versions")
    spec = definition.checked(session, journey.brand_id, body.spec)
    assert journey.id is not None
    number = journey.current_version + 1
    version = JourneyVersion(
        journey_id=journey.id,
        version=number,
        spec=spec.model_dump(mode="json"),
        note=body.note,
        created_by=actor.principal.user_id,
    )
    journey.current_version = number
    journey.updated_at = utcnow()
    session.add(version)
    session.add(journey)
    try:
        session.flush()
    except IntegrityError as err:  # two new versions at once: one wins
        session.rollback()
        raise Conflict(f"journey {journey.id} changed meanwhile; reload and try again") from err
    _audit(session, actor, "journey.version_added", journey, {"version": number, "note": body.note})
    session.commit()
    session.refresh(version)
    return version


def _move(
    session: Session, actor: Actor, journey: Journey, to: JourneyState, allowed: set[JourneyState]
) -> Journey:
    if journey.state not in allowed:
        raise Conflict(f"journey {journey.id} is {journey.state.value}: it cannot be {to.value}")
    before = journey.state
    # The current version must still pass (a template version may have been retired since).
    if to == JourneyState.published:
        current = version_of(session, journey.id or 0, journey.current_version)
        definition.checked(session, journey.brand_id, current.spec)
    journey.state = to
    journey.updated_at = utcnow()
    session.add(journey)
    _audit(
        session,
        actor,
        f"journey.{to.value}",
        journey,
        {"from": before.value, "to": to.value, "version": journey.current_version},
    )
    session.commit()
    session.refresh(journey)
    return journey


def publish(session: Session, actor: Actor, journey: Journey) -> Journey:
    """Partners may switch it on from now."""
    return _move(session, actor, journey, JourneyState.published, {JourneyState.draft})


def retire(session: Session, actor: Actor, journey: Journey) -> Journey:
    """Nobody new enrols (the run side reads the state); nobody switches it on again."""
    allowed = {JourneyState.draft, JourneyState.published}
    return _move(session, actor, journey, JourneyState.retired, allowed)
