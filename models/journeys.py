"""Lifecycle journeys: HQ's versioned design, each partner's switch (with its approved content),
one enrolment per contact and occurrence, and the journey's send ledger.

Uniqueness does the exactly-once work: an enrolment is unique per (activation, contact,
occurrence), so a repeated trigger enrols nobody twice; a send row is unique per (journey, step,
contact, occurrence), so a killed or restarted worker never sends a step's message twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.journeys import ActivationState, EnrolmentState, JourneyState
from domain.states import DeliveryStatus
from models.base import EnumText, utcnow


class Journey(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("brand_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    key: str = Field(max_length=60, description="readable and unique in the brand, e.g. birthday")
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    state: JourneyState = Field(
        default=JourneyState.draft, sa_type=EnumText(JourneyState, 16), index=True
    )
    current_version: int = Field(default=1)
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class JourneyVersion(SQLModel, table=True):
    """One version's design (models.journey_spec.JourneySpec as JSON); never changed once
    written. An activation pins the version it was approved with."""

    __table_args__ = (UniqueConstraint("journey_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    journey_id: int = Field(foreign_key="journey.id", index=True)
    version: int
    spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    note: str = Field(default="", max_length=500)
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class JourneyActivation(SQLModel, table=True):
    """One partner's switch for one journey: one row per (journey, partner), reused when the
    GM switches it on again. `values` is the partner's content per send step
    ({step_id: {slot: value}}), approved once through the approval chain."""

    __table_args__ = (UniqueConstraint("journey_id", "partner_id"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    region_id: int = Field(foreign_key="region.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    journey_id: int = Field(foreign_key="journey.id", index=True)
    version: int = Field(description="the journey version this partner runs")
    state: ActivationState = Field(
        default=ActivationState.pending_approval, sa_type=EnumText(ActivationState, 20), index=True
    )
    values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    switched_on_by: int | None = Field(default=None, foreign_key="user.id")
    switched_on_at: datetime | None = None
    approved_at: datetime | None = None
    switched_off_by: int | None = Field(default=None, foreign_key="user.id")
    switched_off_at: datetime | None = None
    reason: str = Field(default="", max_length=1000, description="why it is not running")
    workflow_id: str = Field(default="", max_length=120, description="its approval chain")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class JourneyEnrolment(SQLModel, table=True):
    """One contact in one journey for one occurrence ("signup" for a one-time trigger, the
    date for a date trigger, e.g. "2026-12-03"); the id of its workflow is derived from it."""

    __table_args__ = (
        UniqueConstraint("activation_id", "contact_id", "occurrence"),
        Index("ix_journeyenrolment_activation_state", "activation_id", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    journey_id: int = Field(foreign_key="journey.id", index=True)
    activation_id: int = Field(foreign_key="journeyactivation.id", index=True)
    contact_id: int | None = Field(default=None, description="None once the contact was erased")
    occurrence: str = Field(max_length=40)
    state: EnrolmentState = Field(
        default=EnrolmentState.running, sa_type=EnumText(EnrolmentState, 16), index=True
    )
    step_id: str = Field(default="", max_length=40, description="the step it is at or ended on")
    exit_reason: str = Field(default="", max_length=40)
    workflow_id: str = Field(default="", max_length=160)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class JourneySend(SQLModel, table=True):
    """The journey's send ledger: one row per message a step sends to a contact. It moves
    pending -> sending -> sent | failed | suppressed like a campaign's delivery row; its key
    makes the step's send happen once whatever retries, kills and restarts happen."""

    __table_args__ = (
        UniqueConstraint(
            "journey_id", "step_id", "contact_id", "occurrence", name="uq_journey_send"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    journey_id: int = Field(foreign_key="journey.id", index=True)
    activation_id: int = Field(foreign_key="journeyactivation.id", index=True)
    enrolment_id: int = Field(foreign_key="journeyenrolment.id", index=True)
    step_id: str = Field(max_length=40)
    contact_id: int | None = Field(default=None, description="None once the contact was erased")
    occurrence: str = Field(max_length=40)
    template_version_id: int = Field(foreign_key="templateversion.id")
    email: str = Field(default="", max_length=320, description="blanked on erasure")
    status: DeliveryStatus = Field(
        default=DeliveryStatus.pending, sa_type=EnumText(DeliveryStatus, 16), index=True
    )
    attempts: int = 0
    message_id: str | None = Field(default=None, max_length=200, index=True)
    provider_message_id: str | None = Field(default=None, max_length=200, index=True)
    error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
