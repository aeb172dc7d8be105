"""The messages of approval chains that decide print orders and claims (workflows.chain_runner):
pydantic only, no table imports, so workflow modules may import them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from approvals.views import StageView
from domain.money import ChainSubject
from models.workflow_io import ActorRef


class ChainTarget(BaseModel):
    """The object's place in the organisation: whose roles decide it (approvals.engine)."""

    brand_id: int
    region_id: int
    partner_id: int


class ChainDecision(BaseModel):
    """A decision on the waiting stage (the workflow's `decide` Update argument)."""

    actor: ActorRef
    decision: str = Field(description="approve | request_changes | reject")
    comment: str | None = Field(None, max_length=2000)
    on_behalf_of: ActorRef | None = Field(
        None, description="the approver a delegate acts for (the API checked the delegation)"
    )


class ChainTaskProjection(BaseModel):
    """What `project_chain_task` writes in one transaction: the ChainTask row (upserted by
    subject and subject id; closed when nothing waits) and one audit event."""

    subject: ChainSubject
    subject_id: int
    label: str = Field(description="what people call the object, e.g. 'print order 12'")
    brand_id: int
    region_id: int
    partner_id: int
    seq: int = Field(description="the runner's event number: the audit key's part")
    event: str = Field(description="submitted, vote, advanced, approved, rejected, ...")
    at: datetime
    actor_id: int | None = None
    on_behalf_of: int | None = None
    comment: str | None = None
    decided_stage: str | None = Field(None, description="the stage the event is about")
    stage: StageView | None = Field(None, description="the stage waiting now (None: done)")
    due_at: datetime | None = None
    workflow_id: str
    run_id: str


class ChainStatus(BaseModel):
    """The chain as its workflow answers a query or a decision."""

    subject: ChainSubject
    subject_id: int
    outcome: str | None = Field(None, description="approved, rejected, changes_requested, ...")
    stage: StageView | None = None
    skipped: list[str] = Field(default_factory=list)
    passed: list[str] = Field(default_factory=list)
    events: int = Field(0, description="events the chain recorded so far")


class ChainNotice(BaseModel):
    """An email the chain asks for: approval_pending and reminder go to whoever may decide
    the stage now (delegates included), escalated to the people the escalation added."""

    kind: str = Field(description="approval_pending | reminder | escalated")
    key: str = Field(description="idempotency key: workflow id, event number and kind")
    subject: ChainSubject
    subject_id: int
    label: str
    brand_id: int
    region_id: int
    partner_id: int
    stage: StageView
    submitted_by: int | None = None
    due_at: datetime | None = None
    portal_path: str = Field("", description="where the object is decided in the portal")
