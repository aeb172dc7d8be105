"""Pydantic shapes the journey workflows and their activities exchange (never tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class JourneySweepInput(BaseModel):
    """`at` None: the sweep's own clock (workflow.now()); tests and backfills pass an instant."""

    at: datetime | None = None
    contact_task_queue: str = ""  # where contact workflows run; "" = the sweep's queue
    send_task_queue: str = ""  # where their sends run; "" = the delivery queue of the settings
    after_activation_id: int = 0  # carried over by continue-as-new: activations done so far


class JourneySweepResult(BaseModel):
    activations: int = 0
    pages: int = 0
    scanned: int = 0
    enrolled: int = 0
    started: int = 0


class EnrolPage(BaseModel):
    activation_id: int
    at: datetime
    after_contact_id: int = 0
    contact_task_queue: str
    send_task_queue: str


class EnrolledPage(BaseModel):
    scanned: int = 0
    enrolled: int = 0  # enrolment rows written by this page
    started: int = 0  # workflows started (a workflow found running counts as started)
    next_contact_id: int | None = None  # None: the activation's contacts are done


class JourneyPlan(BaseModel):
    """The pinned version's design and the partner's zone, read once per sweep page and
    handed to each contact's workflow (no activity before its first timer)."""

    spec: dict[str, Any]
    timezone: str


class JourneyContactInput(BaseModel):
    enrolment_id: int
    activation_id: int
    journey_id: int
    partner_id: int
    contact_id: int
    occurrence: str
    not_before: datetime | None = Field(
        None, description="the first step waits for this instant (a date trigger's local time)"
    )
    send_task_queue: str
    plan: JourneyPlan | None = None  # None: the workflow reads it (load_journey_plan)


class StepCheck(BaseModel):
    """What the workflow needs before a step: whether to leave, and the attributes a branch
    reads."""

    exit_reason: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class JourneyStepSend(BaseModel):
    enrolment_id: int
    step_id: str
    at: datetime  # the workflow's clock: quiet hours, the message's Date


class JourneySendOutcome(BaseModel):
    status: str  # a DeliveryStatus value, or "quiet" / "exit"
    quiet_until: datetime | None = None  # quiet hours at the partner: try again then
    exit_reason: str | None = None  # the contact left between the check and the send


class FinishEnrolment(BaseModel):
    enrolment_id: int
    state: str  # EnrolmentState
    step_id: str
    exit_reason: str = ""
    at: datetime
