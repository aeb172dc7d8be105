"""The approval engine on its own: rules, conditions, timeouts, four eyes, delegation. Pure
functions, so these run without a server; the workflow tests drive the same chain durably."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from approvals import engine
from approvals.builtin import BuiltinPolicy, pinned_builtin
from approvals.engine import Chain, Decision, Outcome, begin, fire, next_timeout, refusal, vote
from approvals.facts import ApprovalFacts
from approvals.policy import (
    Approver,
    ApproverRole,
    Condition,
    Fact,
    Operator,
    PinnedPolicy,
    PolicySpec,
    Resubmit,
    Rule,
    Stage,
    Timeout,
    TimeoutAction,
)
from approvals.validate import check_policy
from core.policy import Grant, Principal, Target
from domain.roles import Role, ScopeType

T0 = datetime(2031, 3, 2, 9, 0, tzinfo=UTC)
TARGET = Target(brand_id=1, region_id=10, partner_id=100)
EDITOR, GM, GM2, NORTH, REV1, REV2, REV3, OTHER = 1, 2, 3, 4, 5, 6, 7, 8


def person(user_id: int, *grants: tuple[Role, ScopeType]) -> Principal:
    made = []
    for role, scope in grants:
        made.append(
            Grant(
                role=role,
                scope=scope,
                brand_id=1,
                region_id=10 if scope == ScopeType.region else None,
                partner_id=100 if scope == ScopeType.partner else None,
            )
        )
    return Principal(user_id=user_id, brand_id=1, email=f"u{user_id}@x", grants=tuple(made))


GM_P = person(GM, (Role.partner_manager, ScopeType.partner))
GM2_P = person(GM2, (Role.partner_manager, ScopeType.partner))
NORTH_P = person(NORTH, (Role.region_manager, ScopeType.region))
REVIEWERS = {u: person(u, (Role.brand_reviewer, ScopeType.brand)) for u in (REV1, REV2, REV3)}
STRANGER = person(OTHER)
FACTS = ApprovalFacts(
    audience_size=120,
    template_tags=["offer"],
    region_id=10,
    role_holders={
        "partner_gm": [GM, GM2],
        "region_manager": [NORTH],
        "brand_reviewer": [REV1, REV2, REV3],
    },
)
GM_STAGE = Approver(role=ApproverRole.partner_gm)
REVIEW = Approver(role=ApproverRole.brand_reviewer)


def pinned(*stages: Stage, **spec: object) -> PinnedPolicy:
    return PinnedPolicy(name="test", spec=PolicySpec(stages=list(stages), **spec))  # type: ignore[arg-type]


def decide(chain: Chain, who: Principal, decision: Decision = Decision.approve) -> Outcome:
    assert refusal(chain, who, TARGET) is None, refusal(chain, who, TARGET)
    return vote(chain, decision, who.user_id, who.user_id, T0)[1]


def test_any_one_approval_passes_the_stage() -> None:
    chain = begin(pinned(Stage(name="gm", approvers=[GM_STAGE])), FACTS, EDITOR, T0)
    assert chain.current is not None and chain.current.required == 1
    assert decide(chain, GM2_P) == Outcome.approved


def test_all_needs_every_holder_at_submission_but_not_the_submitter() -> None:
    chain = begin(pinned(Stage(name="gm", approvers=[GM_STAGE], rule=Rule.all)), FACTS, GM, T0)
    assert chain.current is not None and chain.current.required == 1  # GM submitted: GM2 only
    chain = begin(pinned(Stage(name="gm", approvers=[GM_STAGE], rule=Rule.all)), FACTS, EDITOR, T0)
    chain, outcome = vote(chain, Decision.approve, GM, GM, T0)
    assert outcome == Outcome.counted and refusal(chain, GM_P, TARGET) is not None  # once
    chain, outcome = vote(chain, Decision.approve, GM2, GM2, T0)
    assert outcome == Outcome.approved


def test_quorum_of_two_brand_reviewers() -> None:
    chain = begin(
        pinned(Stage(name="legal", approvers=[REVIEW], rule=Rule.quorum, quorum=2)), FACTS, 1, T0
    )
    chain, first = vote(chain, Decision.approve, REV1, REV1, T0)
    assert first == Outcome.counted
    assert engine.view(chain) is not None and engine.view(chain).approvals == 1  # type: ignore[union-attr]
    assert vote(chain, Decision.approve, REV3, REV3, T0)[1] == Outcome.approved


def test_a_reject_in_a_stage_of_several_ends_the_chain_at_once() -> None:
    chain = begin(pinned(Stage(name="legal", approvers=[REVIEW], rule=Rule.all)), FACTS, EDITOR, T0)
    chain, _ = vote(chain, Decision.approve, REV1, REV1, T0)
    assert vote(chain, Decision.reject, REV2, REV2, T0)[1] == Outcome.rejected


def test_conditions_skip_or_add_stages_when_they_are_reached() -> None:
    big = Condition(fact=Fact.audience_size, op=Operator.gt, value=50)
    offer = Condition(fact=Fact.template_tags, op=Operator.contains, value="offer")
    policy = pinned(
        Stage(name="gm", approvers=[GM_STAGE]),
        Stage(name="region", approvers=[Approver(role=ApproverRole.region_manager)], when=big),
        Stage(name="brand", approvers=[REVIEW], when=offer),
    )
    large = begin(policy, FACTS, EDITOR, T0)
    chain, outcome = vote(large, Decision.approve, GM, GM, T0)
    assert outcome == Outcome.advanced and chain.current and chain.current.name == "region"
    small = begin(policy, FACTS.model_copy(update={"audience_size": 12}), EDITOR, T0)
    chain, outcome = vote(small, Decision.approve, GM, GM, T0)
    assert chain.current and chain.current.name == "brand" and chain.skipped == ["region"]
    plain = FACTS.model_copy(update={"audience_size": 12, "template_tags": []})
    assert vote(begin(policy, plain, EDITOR, T0), Decision.approve, GM, GM, T0)[1] == (
        Outcome.approved
    )


def test_slot_conditions_and_missing_facts() -> None:
    price = Condition(fact=Fact.slot, slot="price", op=Operator.gte, value=100)
    policy = pinned(Stage(name="legal", approvers=[REVIEW], when=price))
    with_price = FACTS.model_copy(update={"slots": {"price": 250}})
    assert begin(policy, with_price, EDITOR, T0).current is not None
    assert begin(policy, FACTS, EDITOR, T0).current is None  # no price: the stage is skipped
    budget = Condition(fact=Fact.budget, op=Operator.gt, value=0)
    assert begin(pinned(Stage(name="b", approvers=[REVIEW], when=budget)), FACTS, 1, T0).done


def test_four_eyes_roles_and_distinct_deciders() -> None:
    policy = pinned(
        Stage(name="gm", approvers=[GM_STAGE]),
        Stage(name="second", approvers=[GM_STAGE, REVIEW]),
        distinct_deciders=True,
    )
    chain = begin(policy, FACTS, GM, T0)
    assert "Four eyes" in (refusal(chain, GM_P, TARGET) or "")
    assert "Only the partner's GM" in (refusal(chain, NORTH_P, TARGET) or "")
    assert refusal(chain, STRANGER, TARGET) is not None
    chain, _ = vote(chain, Decision.approve, GM2, GM2, T0)
    assert "different person" in (refusal(chain, GM2_P, TARGET) or "")
    assert refusal(chain, REVIEWERS[REV1], TARGET) is None


def test_a_delegate_decides_in_their_own_name_for_the_approver() -> None:
    chain = begin(pinned(Stage(name="brand", approvers=[REVIEW])), FACTS, EDITOR, T0)
    assert refusal(chain, STRANGER, TARGET) is not None
    assert refusal(chain, STRANGER, TARGET, on_behalf_of=REVIEWERS[REV1]) is None
    chain, outcome = vote(chain, Decision.approve, REV1, OTHER, T0)
    assert outcome == Outcome.approved and chain.passed[0].deciders == [OTHER]
    submitter_delegate = begin(pinned(Stage(name="b", approvers=[REVIEW])), FACTS, OTHER, T0)
    refused = refusal(submitter_delegate, STRANGER, TARGET, on_behalf_of=REVIEWERS[REV1])
    assert refused is not None and "Four eyes" in refused


@pytest.mark.parametrize(
    ("action", "outcome"),
    [
        (TimeoutAction.remind, Outcome.reminded),
        (TimeoutAction.escalate, Outcome.escalated),
        (TimeoutAction.approve, Outcome.approved),
        (TimeoutAction.reject, Outcome.rejected),
        (TimeoutAction.expire, Outcome.expired),
    ],
)
def test_each_timeout_action(action: TimeoutAction, outcome: Outcome) -> None:
    to = [Approver(role=ApproverRole.region_manager)] if action == TimeoutAction.escalate else []
    stage = Stage(
        name="gm", approvers=[GM_STAGE], timeouts=[Timeout(after=3600, action=action, to=to)]
    )
    chain = begin(pinned(stage), FACTS, EDITOR, T0)
    due = next_timeout(chain)
    assert due == (T0 + timedelta(hours=1), 0)
    chain, got = fire(chain, 0, due[0])
    assert got == outcome and next_timeout(chain) is None  # each fires once
    if action == TimeoutAction.escalate:
        assert refusal(chain, NORTH_P, TARGET) is None  # the region manager may decide now


def test_request_changes_from_the_second_stage_and_resubmission() -> None:
    two = (Stage(name="gm", approvers=[GM_STAGE]), Stage(name="brand", approvers=[REVIEW]))
    chain = begin(pinned(*two), FACTS, EDITOR, T0)
    chain, _ = vote(chain, Decision.approve, GM, GM, T0)
    chain, outcome = vote(chain, Decision.request_changes, REV1, REV1, T0)
    assert outcome == Outcome.changes_requested and chain.asked_for_changes == 1
    again = engine.restart(chain, FACTS, EDITOR, T0)
    assert again.current and again.current.name == "gm" and not again.passed
    asking = pinned(*two, on_resubmit=Resubmit.asking_stage)
    chain = begin(asking, FACTS, EDITOR, T0)
    chain, _ = vote(chain, Decision.approve, GM, GM, T0)
    chain, _ = vote(chain, Decision.request_changes, REV1, REV1, T0)
    again = engine.restart(chain, FACTS, EDITOR, T0)
    assert again.current and again.current.name == "brand"


def test_builtins_reproduce_the_rules_campaigns_had() -> None:
    gm = pinned_builtin(BuiltinPolicy.gm, remind_after=86400, escalate_after=2 * 86400)
    chain = begin(gm, FACTS, EDITOR, T0)
    assert refusal(chain, NORTH_P, TARGET) is not None  # not before escalation
    assert next_timeout(chain) == (T0 + timedelta(days=1), 0)
    chain, _ = fire(chain, 0, T0 + timedelta(days=1))
    chain, escalated = fire(chain, 1, T0 + timedelta(days=2))
    assert escalated == Outcome.escalated and refusal(chain, NORTH_P, TARGET) is None
    hq = begin(pinned_builtin(BuiltinPolicy.gm_then_hq), FACTS, EDITOR, T0)
    hq, outcome = vote(hq, Decision.approve, GM, GM, T0)
    assert outcome == Outcome.advanced and hq.current and hq.current.name == "hq"
    assert refusal(hq, GM_P, TARGET) is not None  # a GM does not decide for HQ
    assert begin(pinned_builtin(BuiltinPolicy.none), FACTS, EDITOR, T0).done


def test_a_stage_nobody_can_pass_says_why() -> None:
    holders = {"partner_gm": [GM], "brand_reviewer": [REV1, REV2]}
    gap = engine.staffing_gap
    assert gap([GM_STAGE], 1, 0, [EDITOR], holders, "GM") is None
    # The only GM submitted it: four eyes leaves nobody.
    assert "submitted it or decided already" in (gap([GM_STAGE], 1, 0, [GM], holders, "GM") or "")
    # No region manager at this partner at all.
    north = Approver(role=ApproverRole.region_manager)
    assert "no such person" in (gap([north], 1, 0, [], holders, "Region") or "")
    # A quorum of three among two reviewers, one of whom voted already.
    short = gap([REVIEW], 3, 1, [REV1], holders, "Brand")
    assert short is not None and "needs 2 more approvals but only 1" in short
    # Named people count too; a stage already passed needs nobody.
    assert gap([Approver(user_id=OTHER)], 1, 0, [], {}, "Named") is None
    assert gap([GM_STAGE], 1, 1, [GM], holders, "GM") is None


# Refusals of a policy (approvals.validate) -------------------------------------------------------


def _fields(spec: PolicySpec, reviewers: int | None = 2) -> list[str]:
    return [e.field for e in check_policy(spec, brand_reviewers=reviewers)]


def test_check_policy_names_each_field() -> None:
    gm = Approver(role=ApproverRole.partner_gm)
    reviewers = Approver(role=ApproverRole.brand_reviewer)
    alice, bob = Approver(user_id=REV1), Approver(user_id=REV2)
    assert _fields(PolicySpec(stages=[Stage(name="gm", approvers=[gm])])) == []
    assert _fields(PolicySpec(stages=[Stage(name="gm")])) == ["stages.0.approvers"]
    twice = PolicySpec(stages=[Stage(name="gm", approvers=[gm]), Stage(name="gm", approvers=[gm])])
    assert _fields(twice) == ["stages.1.name"]
    named = Stage(name="two", approvers=[alice], rule=Rule.quorum, quorum=2)
    assert _fields(PolicySpec(stages=[named])) == ["stages.0.quorum"]
    hq = Stage(name="hq", approvers=[reviewers], rule=Rule.quorum, quorum=3)
    assert _fields(PolicySpec(stages=[hq])) == ["stages.0.quorum"]
    assert _fields(PolicySpec(stages=[hq]), reviewers=None) == []  # not checkable
    # Named users and the brand's reviewers together: at most their sum can approve.
    mixed = Stage(name="mix", approvers=[alice, bob, reviewers], rule=Rule.quorum, quorum=4)
    assert _fields(PolicySpec(stages=[mixed]), reviewers=2) == []
    assert _fields(PolicySpec(stages=[mixed]), reviewers=1) == ["stages.0.quorum"]
    # Roles held per partner or region cannot be counted when the policy is written.
    gms = Stage(name="gms", approvers=[gm], rule=Rule.quorum, quorum=4)
    assert _fields(PolicySpec(stages=[gms])) == []


def test_check_policy_refuses_escalation_loops() -> None:
    gm = Approver(role=ApproverRole.partner_gm)
    region = Approver(role=ApproverRole.region_manager)

    def escalating(*targets: list[Approver]) -> PolicySpec:
        timeouts = [
            Timeout(after=3600 * (i + 1), action=TimeoutAction.escalate, to=to)
            for i, to in enumerate(targets)
        ]
        return PolicySpec(stages=[Stage(name="gm", approvers=[gm], timeouts=timeouts)])

    assert _fields(escalating([region])) == []
    assert _fields(escalating([gm])) == ["stages.0.timeouts.0.to"]  # back to itself
    assert _fields(escalating([region], [region])) == ["stages.0.timeouts.1.to"]
    assert _fields(escalating([region], [gm, region])) == ["stages.0.timeouts.1.to"]
    assert _fields(escalating([region, region])) == ["stages.0.timeouts.0.to"]  # listed twice
    assert _fields(escalating([])) == ["stages.0.timeouts.0.to"]
