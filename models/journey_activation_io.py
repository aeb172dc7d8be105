"""What the journey activation workflow and its activities exchange (pydantic only: the
workflow sandbox must not import tables)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from approvals.facts import ApprovalFacts
from approvals.policy import PinnedPolicy
from models.workflow_io import ActorRef


class ActivationInput(BaseModel):
    """One switch-on request of a partner for a journey: its chain decides the content."""

    activation_id: int
    journey_id: int
    brand_id: int
    region_id: int
    partner_id: int
    requested_by: int
    label: str


class ActivationChainInput(BaseModel):
    policy: PinnedPolicy
    facts: ApprovalFacts


class ActivationTransition(BaseModel):
    """The chain's outcome written to the activation row, with its audit event, once."""

    activation_id: int
    event: str  # approved | rejected | withdrawn
    to_state: str
    at: datetime
    actor_id: int | None = None
    comment: str | None = None
    workflow_id: str
    run_id: str


class ActivationWithdraw(BaseModel):
    """Switched off while the chain waits: the task closes without a decision."""

    actor: ActorRef
    comment: str = ""
