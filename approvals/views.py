"""The shapes the approval engine hands out: to workflow messages, projections and the API.

Kept apart from the engine so message modules can import them without the engine's imports.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from approvals.policy import Approver, Rule


class Decision(StrEnum):
    approve = "approve"
    request_changes = "request_changes"
    reject = "reject"


class StageView(BaseModel):
    """The waiting stage as projections, inbox tasks and notices carry it."""

    policy: str
    name: str
    label: str
    index: int
    of: int = Field(description="stages in the policy")
    approvers: list[Approver]
    rule: Rule
    required: int
    approvals: int
    excluded_user_ids: list[int]
    escalated: bool = False
    escalated_to: list[Approver] = Field(default_factory=list)
