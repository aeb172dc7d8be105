"""The approval engine: one chain's progress, as pure functions of the chain, a clock reading and
what people do. No I/O, deterministic, so it runs inside a workflow (which holds the chain in
its state and replays it) and the same answers serve the API's checks, the inbox and the links.

- `begin` starts a chain at its first applicable stage (conditions read the facts of the
  submission, when the stage is reached); `restart` after a resubmission.
- `refusal` says why someone may not decide now (or None): an approver of the stage (a role at
  the object, a named user), or a delegate acting for one; never the submitter (four eyes);
  nobody twice in a stage, and with `distinct_deciders` nobody in two stages.
- `vote` records a decision: a request for changes or a rejection ends the chain at once (in a
  stage of several approvers too); approvals pass the stage once the rule is met.
- `next_timeout` / `fire` run a stage's SLA: remind, escalate, approve, reject, expire.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from approvals.facts import ApprovalFacts, describe, holds
from approvals.policy import (
    Approver,
    ApproverRole,
    PinnedPolicy,
    Resubmit,
    Rule,
    Stage,
    TimeoutAction,
)
from approvals.views import Decision, StageView
from core.policy import Principal, Target, covers
from core.said import said
from domain.roles import Role, ScopeType

ROLE_GRANTS: dict[ApproverRole, tuple[Role, ScopeType]] = {
    ApproverRole.partner_gm: (Role.partner_manager, ScopeType.partner),
    ApproverRole.region_manager: (Role.region_manager, ScopeType.region),
    ApproverRole.brand_reviewer: (Role.brand_reviewer, ScopeType.brand),
}


class Vote(BaseModel):
    user_id: int = Field(description="the approver the vote counts for")
    by: int = Field(description="who decided: the approver, or their delegate")
    decision: Decision
    at: datetime


class StageRun(BaseModel):
    """The stage waiting now."""

    index: int
    name: str
    label: str
    started_at: datetime
    approvers: list[Approver]
    rule: Rule
    required: int = Field(description="approvals that pass the stage")
    votes: list[Vote] = Field(default_factory=list)
    fired: list[int] = Field(default_factory=list, description="timeouts already run")
    escalated: bool = False
    escalated_to: list[Approver] = Field(default_factory=list, description="added by escalation")


class PassedStage(BaseModel):
    name: str
    deciders: list[int] = Field(default_factory=list, description="who decided (by)")
    by_timeout: bool = False


class Chain(BaseModel):
    policy: PinnedPolicy
    facts: ApprovalFacts
    submitted_by: int | None = None
    current: StageRun | None = None
    passed: list[PassedStage] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list, description="stages whose condition failed")
    asked_for_changes: int | None = Field(None, description="the stage that sent it back")

    @property
    def done(self) -> bool:
        return self.current is None


class Outcome(StrEnum):
    counted = "counted"  # the stage waits for more approvals
    advanced = "advanced"  # the stage passed; the next one waits
    approved = "approved"  # the last stage passed: the chain is approved
    changes_requested = "changes_requested"
    rejected = "rejected"
    expired = "expired"
    reminded = "reminded"
    escalated = "escalated"


# Who holds an approver role -------------------------------------------------------------------


def holds_approver(principal: Principal, approver: Approver, target: Target) -> bool:
    if approver.user_id is not None:
        return principal.user_id == approver.user_id
    assert approver.role is not None
    role, scope = ROLE_GRANTS[approver.role]
    return any(g.role == role and g.scope == scope and covers(g, target) for g in principal.grants)


def pool(approvers: Iterable[Approver], facts: ApprovalFacts) -> set[int]:
    """The people the approvers name, as known at submission."""
    people: set[int] = set()
    for approver in approvers:
        if approver.user_id is not None:
            people.add(approver.user_id)
        elif approver.role is not None:
            people.update(facts.role_holders.get(approver.role.value, []))
    return people


def excluded(chain: Chain) -> set[int]:
    """Who may not decide the current stage: the submitter, whoever decided it already, and
    with distinct deciders everyone who decided an earlier stage."""
    out = {chain.submitted_by} if chain.submitted_by is not None else set()
    if chain.current is not None:
        out |= {v.by for v in chain.current.votes} | {v.user_id for v in chain.current.votes}
    if chain.policy.spec.distinct_deciders:
        out |= {d for p in chain.passed for d in p.deciders}
    return out


def may_decide(
    principal: Principal,
    approvers: Iterable[Approver],
    target: Target,
    excluded_ids: Iterable[int],
    *,
    on_behalf_of: Principal | None = None,
) -> bool:
    """The one rule for "may this person decide this stage now": asked by the workflow's
    validators (through `refusal`), the inbox (from a task's stored stage) and the links."""
    deciding = on_behalf_of or principal
    banned = set(excluded_ids)
    if principal.user_id in banned or deciding.user_id in banned:
        return False
    return any(holds_approver(deciding, a, target) for a in approvers)


def refusal(
    chain: Chain, principal: Principal, target: Target, *, on_behalf_of: Principal | None = None
) -> str | None:
    """Why `principal` (acting for `on_behalf_of`, a delegate's approver) may not decide the
    current stage; None when they may."""
    stage = chain.current
    if stage is None:
        return said("nothing waits for a decision")
    subject = on_behalf_of or principal
    if chain.submitted_by in (principal.user_id, subject.user_id):
        return said("Four eyes: the person who submitted cannot decide")
    voted = {v.by for v in stage.votes} | {v.user_id for v in stage.votes}
    if subject.user_id in voted or principal.user_id in voted:
        return said("You have decided the stage %(stage)s already", stage=repr(stage.label))
    if chain.policy.spec.distinct_deciders and subject.user_id in {
        d for p in chain.passed for d in p.deciders
    }:
        return said(
            "This policy wants a different person for each stage: you decided an earlier one"
        )
    if not any(holds_approver(subject, a, target) for a in stage.approvers):
        who = ", ".join(a.label() for a in stage.approvers)
        return said("Only %(who)s decides at the stage %(stage)s", who=who, stage=repr(stage.label))
    return None


# Moving through the chain ---------------------------------------------------------------------


def _required(stage: Stage, approvers: list[Approver], chain: Chain) -> int:
    if stage.rule == Rule.any:
        return 1
    if stage.rule == Rule.quorum:
        return stage.quorum or 1
    people = pool(approvers, chain.facts) - excluded(chain)
    return max(1, len(people))


def _enter(chain: Chain, start: int, now: datetime) -> Chain:
    """The first stage from `start` whose condition holds, or the chain approved (current
    None) when there is none."""
    stages = chain.policy.spec.stages
    skipped = list(chain.skipped)
    for index in range(start, len(stages)):
        stage = stages[index]
        if not holds(stage.when, chain.facts):
            skipped.append(stage.name)
            continue
        base = chain.model_copy(update={"skipped": skipped, "current": None})
        run = StageRun(
            index=index,
            name=stage.name,
            label=stage.title,
            started_at=now,
            approvers=list(stage.approvers),
            rule=stage.rule,
            required=_required(stage, list(stage.approvers), base),
        )
        return base.model_copy(update={"current": run})
    return chain.model_copy(update={"skipped": skipped, "current": None})


def begin(
    policy: PinnedPolicy, facts: ApprovalFacts, submitted_by: int | None, now: datetime
) -> Chain:
    return _enter(Chain(policy=policy, facts=facts, submitted_by=submitted_by), 0, now)


def restart(chain: Chain, facts: ApprovalFacts, submitted_by: int | None, now: datetime) -> Chain:
    """After a resubmission: from the first stage (the default), or from the stage that asked
    for changes when the policy says so. Earlier decisions no longer count either way."""
    start = 0
    if chain.policy.spec.on_resubmit == Resubmit.asking_stage and chain.asked_for_changes:
        start = chain.asked_for_changes
    fresh = Chain(policy=chain.policy, facts=facts, submitted_by=submitted_by)
    return _enter(fresh, start, now)


def _pass(chain: Chain, now: datetime, *, by_timeout: bool = False) -> tuple[Chain, Outcome]:
    stage = chain.current
    assert stage is not None
    deciders = sorted({v.by for v in stage.votes if v.decision == Decision.approve})
    passed = [*chain.passed, PassedStage(name=stage.name, deciders=deciders, by_timeout=by_timeout)]
    moved = _enter(chain.model_copy(update={"passed": passed}), stage.index + 1, now)
    return moved, (Outcome.approved if moved.current is None else Outcome.advanced)


def vote(
    chain: Chain, decision: Decision, user_id: int, by: int, now: datetime
) -> tuple[Chain, Outcome]:
    """Record a decision already allowed by `refusal`."""
    stage = chain.current
    assert stage is not None, "nothing waits for a decision"
    cast = Vote(user_id=user_id, by=by, decision=decision, at=now)
    stage = stage.model_copy(update={"votes": [*stage.votes, cast]})
    chain = chain.model_copy(update={"current": stage})
    if decision == Decision.request_changes:
        return chain.model_copy(
            update={"asked_for_changes": stage.index}
        ), Outcome.changes_requested
    if decision == Decision.reject:
        return chain, Outcome.rejected
    approvals = {v.user_id for v in stage.votes if v.decision == Decision.approve}
    if len(approvals) >= stage.required:
        return _pass(chain, now)
    return chain, Outcome.counted


def next_timeout(chain: Chain) -> tuple[datetime, int] | None:
    """When the current stage's next unfired timeout is due, and which one."""
    stage = chain.current
    if stage is None:
        return None
    timeouts = chain.policy.spec.stages[stage.index].timeouts
    due = [
        (stage.started_at + timedelta(seconds=t.after), i)
        for i, t in enumerate(timeouts)
        if i not in stage.fired
    ]
    return min(due) if due else None


def fire(chain: Chain, index: int, now: datetime) -> tuple[Chain, Outcome]:
    """Run timeout `index` of the current stage (once)."""
    stage = chain.current
    assert stage is not None
    timeout = chain.policy.spec.stages[stage.index].timeouts[index]
    stage = stage.model_copy(update={"fired": [*stage.fired, index]})
    chain = chain.model_copy(update={"current": stage})
    action = timeout.action
    if action == TimeoutAction.remind:
        return chain, Outcome.reminded
    if action == TimeoutAction.escalate:
        added = [a for a in timeout.to if a not in stage.approvers]
        stage = stage.model_copy(
            update={
                "approvers": [*stage.approvers, *added],
                "escalated": True,
                "escalated_to": [*stage.escalated_to, *added],
            }
        )
        return chain.model_copy(update={"current": stage}), Outcome.escalated
    if action == TimeoutAction.approve:
        return _pass(chain, now, by_timeout=True)
    if action == TimeoutAction.reject:
        return chain, Outcome.rejected
    return chain, Outcome.expired


def staffing_gap(
    approvers: Iterable[Approver],
    required: int,
    approvals: int,
    excluded_ids: Iterable[int],
    holders: dict[str, list[int]],
    label: str,
) -> str | None:
    """Why the waiting stage cannot pass with the people it names now (None when it can): the
    role has nobody at this partner, or only the submitter and people who decided already. The
    stage then waits for its timeouts (an escalation adds people) or the send deadline, so
    HQ must be told rather than left to find out when it expires."""
    needed = required - approvals
    if needed <= 0:
        return None
    named = pool(approvers, ApprovalFacts(role_holders=holders))
    free = named - set(excluded_ids)
    if len(free) >= needed:
        return None
    who = ", ".join(a.label() for a in approvers) or "nobody"
    if not named:
        return f"Nobody can decide {label!r}: it asks {who}, and there is no such person here"
    if not free:
        return (
            f"Nobody can decide {label!r}: it asks {who}, and the only such people submitted "
            "it or decided already"
        )
    return (
        f"{label!r} needs {needed} more approvals but only {len(free)} of the people it asks "
        f"({who}) may still decide"
    )


# What people see -----------------------------------------------------------------------------


def view(chain: Chain) -> StageView | None:
    stage = chain.current
    if stage is None:
        return None
    return StageView(
        policy=chain.policy.name,
        name=stage.name,
        label=stage.label,
        index=stage.index,
        of=len(chain.policy.spec.stages),
        approvers=list(stage.approvers),
        rule=stage.rule,
        required=stage.required,
        approvals=len({v.user_id for v in stage.votes if v.decision == Decision.approve}),
        excluded_user_ids=sorted(excluded(chain)),
        escalated=stage.escalated,
        escalated_to=list(stage.escalated_to),
    )


class ExplainedStage(BaseModel):
    name: str
    label: str
    applies: bool
    because: str
    approvers: list[Approver]
    rule: Rule
    required: int
    people: list[int] = Field(description="who could decide, as known now")


def explain(
    policy: PinnedPolicy, facts: ApprovalFacts, submitted_by: int | None
) -> list[ExplainedStage]:
    """A dry run: for each stage, whether it would apply to these facts and who would decide."""
    chain = Chain(policy=policy, facts=facts, submitted_by=submitted_by)
    out = []
    for stage in policy.spec.stages:
        applies = holds(stage.when, facts)
        because = "always" if stage.when is None else describe(stage.when)
        people = pool(stage.approvers, facts) - excluded(chain)
        out.append(
            ExplainedStage(
                name=stage.name,
                label=stage.title,
                applies=applies,
                because=because if applies else f"skipped: not ({because})",
                approvers=list(stage.approvers),
                rule=stage.rule,
                required=_required(stage, list(stage.approvers), chain),
                people=sorted(people),
            )
        )
    return out
