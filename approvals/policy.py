"""What an approval policy says: stages, who approves, the rule, timeouts and conditions.

Pure pydantic shapes (stored as JSON on a policy version, pinned into every chain that runs it),
so a running approval never changes under people when HQ edits the policy: it keeps the spec
it started with. Conditions are data (a fact, an operator, a value), never code.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.said import said

STAGE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MIN_TIMEOUT = 60  # seconds: a stage's SLA below a minute is a mistake, not a policy
MAX_STAGES = 20


class ApproverRole(StrEnum):
    """A role relative to the object being approved (its partner, its region, its brand)."""

    partner_gm = "partner_gm"  # the partner's general manager (partner_manager at the partner)
    region_manager = "region_manager"  # the manager of the partner's region
    brand_reviewer = "brand_reviewer"  # HQ's brand reviewers


# English where the API shows them; the portal translates them (core.said).
ROLE_LABELS: dict[ApproverRole, str] = {
    ApproverRole.partner_gm: said("the partner's GM"),
    ApproverRole.region_manager: said("the region manager"),
    ApproverRole.brand_reviewer: said("a brand reviewer"),
}


class Approver(BaseModel):
    """Either a role relative to the object, or one named user."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    role: ApproverRole | None = None
    user_id: int | None = Field(None, ge=1, le=2**31)

    @model_validator(mode="after")
    def _one(self) -> Approver:
        if (self.role is None) == (self.user_id is None):
            raise ValueError("name either a role or a user_id")
        return self

    def label(self, names: dict[int, str] | None = None) -> str:
        if self.role is not None:
            return ROLE_LABELS[self.role]
        return (names or {}).get(self.user_id or 0) or said("user %(id)s", id=self.user_id)


class Rule(StrEnum):
    any = "any"  # the first approval passes the stage
    all = "all"  # every approver approves
    quorum = "quorum"  # `quorum` approvals pass it


class TimeoutAction(StrEnum):
    remind = "remind"  # tell the approvers again
    escalate = "escalate"  # add `to` as approvers of the stage and tell them
    approve = "approve"  # the stage passes without a decision (audited as such)
    reject = "reject"  # the chain ends, rejected
    expire = "expire"  # the chain ends, expired


class Timeout(BaseModel):
    """What happens `after` seconds in the stage without a decision (each fires once)."""

    model_config = ConfigDict(extra="forbid")
    after: int = Field(ge=1, le=366 * 86400, description="seconds after the stage began")
    action: TimeoutAction
    to: list[Approver] = Field(default_factory=list, description="escalate: who is added")


class Fact(StrEnum):
    """What a condition may look at: facts of the object as it was submitted."""

    audience_size = "audience_size"  # recipients the send would reach (eligible)
    template_tags = "template_tags"  # the template version's tags
    region_id = "region_id"  # the partner's region
    channel = "channel"  # email, print, sms
    budget = "budget"  # the declared budget, minor units (None until funds exist)
    expected_cost = "expected_cost"  # the estimated full cost, minor units (None: no rate)
    # HQ's expected share minus what the fund has available (minor units): above 0 the fund
    # cannot cover it; None when the partner has no fund for the channel then.
    fund_shortfall = "fund_shortfall"
    slot = "slot"  # the value of one slot (`slot` names it)


class Operator(StrEnum):
    gt = "gt"
    gte = "gte"
    lt = "lt"
    lte = "lte"
    eq = "eq"
    ne = "ne"
    in_ = "in"  # the fact is one of the listed values
    not_in = "not_in"
    contains = "contains"  # the fact (a list: tags) holds the value


NUMERIC = frozenset({Operator.gt, Operator.gte, Operator.lt, Operator.lte})
LISTED = frozenset({Operator.in_, Operator.not_in})


class Condition(BaseModel):
    """`fact` `op` `value`, e.g. audience_size gt 50, or template_tags contains "offer"."""

    model_config = ConfigDict(extra="forbid")
    fact: Fact
    op: Operator
    value: int | str | list[int | str]
    slot: str | None = Field(None, description="fact slot: the slot's name")

    @model_validator(mode="after")
    def _shape(self) -> Condition:
        if (self.fact == Fact.slot) != (self.slot is not None):
            raise ValueError("`slot` names the slot exactly when the fact is slot")
        if self.op in LISTED and not isinstance(self.value, list):
            raise ValueError(f"{self.op.value} needs a list of values")
        if self.op not in LISTED and isinstance(self.value, list):
            raise ValueError(f"{self.op.value} compares with one value, not a list")
        if self.op in NUMERIC and not isinstance(self.value, int):
            raise ValueError(f"{self.op.value} compares numbers: give a whole number")
        return self


class Stage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="lower-case words with _, unique in the policy")
    label: str = Field("", max_length=100, description="what people see; the name if empty")
    approvers: list[Approver] = Field(default_factory=list, max_length=50)
    rule: Rule = Rule.any
    quorum: int | None = Field(None, ge=1, le=50, description="rule quorum: approvals needed")
    timeouts: list[Timeout] = Field(default_factory=list, max_length=10)
    when: Condition | None = Field(None, description="the stage applies only when this holds")

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


class Resubmit(StrEnum):
    first_stage = "first_stage"  # the whole chain again (the default)
    asking_stage = "asking_stage"  # straight back to the stage that asked for changes


class PolicySpec(BaseModel):
    """The chain. No stage (or none whose condition holds) means no approval is needed."""

    model_config = ConfigDict(extra="forbid")
    stages: list[Stage] = Field(default_factory=list, max_length=MAX_STAGES)
    distinct_deciders: bool = Field(
        False, description="nobody decides more than one stage of the chain"
    )
    on_resubmit: Resubmit = Resubmit.first_stage

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


class PinnedPolicy(BaseModel):
    """The policy version a chain runs (campaigns pin it at launch); `policy_id` None for the
    built-in policies."""

    name: str
    spec: PolicySpec
    policy_id: int | None = None
    version_id: int | None = None
    version: int | None = None


def spec_of(raw: dict[str, Any]) -> PolicySpec:
    return PolicySpec.model_validate(raw)
