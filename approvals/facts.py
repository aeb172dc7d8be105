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


def describe(condition: Condition) -> str:
    """The condition in words, for diagrams, explanations and the audit trail."""
    subject = f"slot {condition.slot}" if condition.fact == Fact.slot else condition.fact.value
    words = {
        Operator.gt: "above",
        Operator.gte: "at least",
        Operator.lt: "below",
        Operator.lte: "at most",
        Operator.eq: "is",
        Operator.ne: "is not",
        Operator.in_: "is one of",
        Operator.not_in: "is none of",
        Operator.contains: "contains",
    }[condition.op]
    value = condition.value
    shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return f"{subject.replace('_', ' ')} {words} {shown}"
