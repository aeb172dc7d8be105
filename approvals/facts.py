"""The facts a chain's conditions read, and who holds each approver role for the object.

Gathered once, when the object is submitted (the API has the database; the workflow has none),
and carried with the chain: a condition is evaluated when its stage is reached, against the
facts of the submission being approved. A fact the object does not have (a budget before funds
exist) makes every condition on it false: the stage is skipped, which `explain` shows.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from approvals.policy import NUMERIC, Condition, Fact, Operator
from core.said import Said, said


class ApprovalFacts(BaseModel):
    audience_size: int | None = None
    template_tags: list[str] = Field(default_factory=list)
    region_id: int | None = None
    channel: str = "email"
    budget: int | None = None
    # Money (minor units, the fund's currency): see services.funds.facts.money_facts.
    expected_cost: int | None = None
    fund_shortfall: int | None = None
    slots: dict[str, Any] = Field(default_factory=dict)
    # Who holds each approver role for this object when it was submitted (user ids): the
    # rules "all" and "quorum" count against them; "any" also accepts someone who holds the
    # role later (their grants say so when they decide).
    role_holders: dict[str, list[int]] = Field(default_factory=dict)


def _value(condition: Condition, facts: ApprovalFacts) -> Any:
    if condition.fact == Fact.slot:
        return facts.slots.get(condition.slot or "")
    return getattr(facts, condition.fact.value)


def holds(condition: Condition | None, facts: ApprovalFacts) -> bool:
    """Whether the stage applies. No condition: always."""
    if condition is None:
        return True
    found = _value(condition, facts)
    want = condition.value
    if found is None:
        return False
    op = condition.op
    if op == Operator.contains:
        return isinstance(found, list) and want in found
    if op in NUMERIC:
        if isinstance(found, bool) or not isinstance(found, int | float):
            return False
        assert isinstance(want, int)
        return {
            Operator.gt: found > want,
            Operator.gte: found >= want,
            Operator.lt: found < want,
            Operator.lte: found <= want,
        }[op]
    if op == Operator.eq:
        return bool(found == want)
    if op == Operator.ne:
        return bool(found != want)
    assert isinstance(want, list)
    inside = found in want
    return inside if op == Operator.in_ else not inside


# What a condition looks at and how it compares, in words (core.said: English for the API,
# the audit trail and the mermaid source; the portal shows them in the reader's language).
SUBJECTS: dict[Fact, str] = {
    Fact.audience_size: said("audience size"),
    Fact.template_tags: said("template tags"),
    Fact.region_id: said("region id"),
    Fact.channel: said("channel"),
    Fact.budget: said("budget"),
    Fact.expected_cost: said("expected cost"),
    Fact.fund_shortfall: said("fund shortfall"),
}
COMPARISONS: dict[Operator, Said] = {
    Operator.gt: said("%(subject)s above %(value)s"),
    Operator.gte: said("%(subject)s at least %(value)s"),
    Operator.lt: said("%(subject)s below %(value)s"),
    Operator.lte: said("%(subject)s at most %(value)s"),
    Operator.eq: said("%(subject)s is %(value)s"),
    Operator.ne: said("%(subject)s is not %(value)s"),
    Operator.in_: said("%(subject)s is one of %(value)s"),
    Operator.not_in: said("%(subject)s is none of %(value)s"),
    Operator.contains: said("%(subject)s contains %(value)s"),
}


def describe(condition: Condition) -> str:
    """The condition in words, for diagrams, explanations and the audit trail."""
    subject = (
        said("slot %(slot)s", slot=condition.slot)
        if condition.fact == Fact.slot
        else SUBJECTS[condition.fact]
    )
    value = condition.value
    shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return Said(COMPARISONS[condition.op].message, {"subject": subject, "value": shown})
