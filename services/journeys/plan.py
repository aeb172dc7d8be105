"""What a running contact's workflow walks: the activation's pinned version of the design."""

from __future__ import annotations

from sqlmodel import Session, select

from models.journey_io import JourneyPlan
from models.journey_spec import JourneySpec
from models.journeys import JourneyActivation, JourneyEnrolment, JourneyVersion
from models.org import Partner


def spec_of(session: Session, activation: JourneyActivation) -> JourneySpec:
    version = session.exec(
        select(JourneyVersion)
        .where(JourneyVersion.journey_id == activation.journey_id)
        .where(JourneyVersion.version == activation.version)
    ).one()
    return JourneySpec.model_validate(version.spec)


def plan_of(session: Session, enrolment_id: int) -> JourneyPlan:
    enrolment = session.get(JourneyEnrolment, enrolment_id)
    if enrolment is None:
        raise LookupError(f"journey enrolment {enrolment_id} does not exist")
    activation = session.get(JourneyActivation, enrolment.activation_id)
    partner = session.get(Partner, enrolment.partner_id)
    assert activation is not None and partner is not None
    spec = spec_of(session, activation)
    return JourneyPlan(spec=spec.model_dump(mode="json"), timezone=partner.timezone)
