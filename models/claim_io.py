"""What the ClaimWorkflow, its activities and the API exchange (pydantic, no tables: the
workflow sandbox must not re-import SQLModel tables)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from approvals.facts import ApprovalFacts
from approvals.policy import PinnedPolicy
from models.workflow_io import ActorRef


class ClaimStart(BaseModel):
    """What a claim is for: exactly one of the two (the `start_claim` activity's argument)."""

    partner_campaign_id: int | None = None
    print_order_id: int | None = None


class ClaimStarted(BaseModel):
    """`claim_id` None: no claim, and `reason` says why (no fund, nothing eligible)."""

    claim_id: int | None = None
    workflow_id: str | None = None
    started: bool = False  # False: the workflow was running already (or no claim)
    reason: str = ""


class ClaimInput(BaseModel):
    claim_id: int
    brand_id: int
    region_id: int
    partner_id: int
    window_closes_at: datetime


class ClaimReminder(BaseModel):
    claim_id: int
    days: int  # before the claim window closes


class ClaimConfirm(BaseModel):
    actor: ActorRef
    comment: str | None = Field(None, max_length=2000)


class ClaimChainInput(BaseModel):
    """HQ's chain for a confirmed claim: the pinned policy and the facts its conditions read."""

    policy: PinnedPolicy
    facts: ApprovalFacts


class ClaimPayment(BaseModel):
    actor: ActorRef
    reference: str = Field(min_length=1, max_length=120)


class ClaimTransition(BaseModel):
    """One projected step: the row's state, the audit event, and (approve, pay) the ledger."""

    claim_id: int
    seq: int  # the workflow's count of transitions: makes each audit event's key unique
    event: str  # reminded, confirmed, state_changed (the chain's outcome), expired, paid
    from_state: str
    to_state: str
    at: datetime
    actor_id: int | None = None
    comment: str | None = None
    payment_reference: str = ""
    workflow_id: str = ""
    run_id: str = ""


class ClaimStatus(BaseModel):
    claim_id: int
    state: str
    confirmed_by: int | None = None
    payment_reference: str = ""
