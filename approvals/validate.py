"""Refusals of a policy HQ wrote, each naming its field (`stages.1.quorum`).

Shape errors (a missing role, a list where one value belongs) are pydantic's, with the same
dotted field names; these are the rules between fields: a stage nobody can decide, a quorum the
named approvers cannot reach, a stage name used twice, an escalation back to the stage's own
approvers (a loop: the stage would wait on itself), conditions on slots the template lacks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from approvals.policy import (
    MIN_TIMEOUT,
    STAGE_NAME,
    Approver,
    ApproverRole,
    Fact,
    PolicySpec,
    Rule,
    TimeoutAction,
)


@dataclass(frozen=True)
class PolicyError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


def check_policy(spec: PolicySpec, *, brand_reviewers: int | None = None) -> list[PolicyError]:
    """Every rule the spec breaks. `brand_reviewers`, when known, is how many brand
    reviewers the brand has: a quorum of them above that count can never be reached."""
    errors: list[PolicyError] = []
    seen: set[str] = set()
    for i, stage in enumerate(spec.stages):
        at = f"stages.{i}"
        if not STAGE_NAME.fullmatch(stage.name):
            errors.append(
                PolicyError(
                    f"{at}.name", "lower-case letters, digits and _, starting with a letter"
                )
            )
        if stage.name in seen:
            errors.append(PolicyError(f"{at}.name", f"{stage.name!r} is used by an earlier stage"))
        seen.add(stage.name)
        if not stage.approvers:
            errors.append(PolicyError(f"{at}.approvers", "name at least one approver"))
        if len(set(stage.approvers)) != len(stage.approvers):
            errors.append(PolicyError(f"{at}.approvers", "an approver is listed twice"))
        errors += _rule_errors(at, stage.rule, stage.quorum, stage.approvers, brand_reviewers)
        afters: set[int] = set()
        asked = set(stage.approvers)
        for j, timeout in enumerate(stage.timeouts):
            where = f"{at}.timeouts.{j}"
            if timeout.after < MIN_TIMEOUT:
                errors.append(PolicyError(f"{where}.after", "at least a minute (60 seconds)"))
            if timeout.after in afters:
                errors.append(PolicyError(f"{where}.after", "two timeouts at the same time"))
            afters.add(timeout.after)
            if timeout.action == TimeoutAction.escalate:
                if not timeout.to:
                    errors.append(PolicyError(f"{where}.to", "say whom the stage escalates to"))
                elif set(timeout.to) <= set(stage.approvers):
                    errors.append(
                        PolicyError(
                            f"{where}.to",
                            "escalates to the stage's own approvers: the stage would wait on "
                            "itself (a loop)",
                        )
                    )
                elif set(timeout.to) <= asked:
                    errors.append(
                        PolicyError(
                            f"{where}.to",
                            "escalates to people an earlier escalation of the stage added: "
                            "it would wait on them again (a loop)",
                        )
                    )
                if len(set(timeout.to)) != len(timeout.to):
                    errors.append(PolicyError(f"{where}.to", "a person is listed twice"))
                asked |= set(timeout.to)
            elif timeout.to:
                errors.append(PolicyError(f"{where}.to", "only an escalation names people"))
    return errors


def _rule_errors(
    at: str, rule: Rule, quorum: int | None, listed: list[Approver], reviewers: int | None
) -> list[PolicyError]:
    if rule != Rule.quorum:
        if quorum is not None:
            return [PolicyError(f"{at}.quorum", "only the quorum rule takes a quorum")]
        return []
    if quorum is None:
        return [PolicyError(f"{at}.quorum", "say how many approvals the quorum needs")]
    if listed and all(a.user_id is not None for a in listed) and quorum > len(listed):
        return [
            PolicyError(
                f"{at}.quorum", f"{quorum} approvals from {len(listed)} named approvers cannot be"
            )
        ]
    named = {a.user_id for a in listed if a.user_id is not None}
    countable = all(a.user_id is not None or a.role == ApproverRole.brand_reviewer for a in listed)
    if listed and countable and reviewers is not None and quorum > len(named) + reviewers:
        # Named users and the brand's reviewers: at most that many people can approve.
        return [
            PolicyError(
                f"{at}.quorum",
                f"{quorum} approvals but the brand has {reviewers} brand reviewer(s)"
                + (f" and the stage names {len(named)} user(s)" if named else ""),
            )
        ]
    return []


def check_against_template(spec: PolicySpec, slot_names: Iterable[str]) -> list[PolicyError]:
    """Conditions on slots the template does not declare can never hold: refused when a
    campaign puts the policy and the template together."""
    known = set(slot_names)
    return [
        PolicyError(
            f"stages.{i}.when.slot",
            f"the template has no slot {stage.when.slot!r}",
        )
        for i, stage in enumerate(spec.stages)
        if stage.when is not None and stage.when.fact == Fact.slot and stage.when.slot not in known
    ]
