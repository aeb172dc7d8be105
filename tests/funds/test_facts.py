"""The money facts of an approval: expected cost and fund shortfall gathered for a partner
campaign (and through money_facts for print orders and claims), and a stage conditioned on
`fund_shortfall gt 0` taken only when the fund cannot cover HQ's share."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, select

from approvals.engine import Outcome, begin, vote
from approvals.facts import ApprovalFacts
from approvals.policy import (
    Approver,
    ApproverRole,
    Condition,
    Fact,
    Operator,
    PinnedPolicy,
    PolicySpec,
    Stage,
)
from approvals.views import Decision
from models.campaigns import PartnerCampaign
from models.org import Partner
from services.approvals.facts import gather
from services.funds.facts import money_facts
from tests.delivery.test_delivery import add_contacts, good_values, make_segment, open_day_row
from tests.funds.test_campaign_money import seed_money

HQ_WHEN_SHORT = PinnedPolicy(
    name="money",
    spec=PolicySpec(
        stages=[
            Stage(name="gm", approvers=[Approver(role=ApproverRole.partner_gm)]),
            Stage(
                name="hq",
                approvers=[Approver(role=ApproverRole.brand_reviewer)],
                when=Condition(fact=Fact.fund_shortfall, op=Operator.gt, value=0),
            ),
        ]
    ),
)


def facts_of(engine: Engine, slug: str = "amsterdam") -> ApprovalFacts:
    add_contacts(engine, slug, 30, tag="money")
    segment = make_segment(engine, slug, "money")
    pcid = open_day_row(engine, good_values(), segment, state="drafting", slug=slug)
    with Session(engine) as s:
        row = s.get(PartnerCampaign, pcid)
        assert row is not None
        return gather(s, row, segment_id=segment)


def hq_stage_taken(facts: ApprovalFacts) -> bool:
    """The GM approves; then HQ's stage waits (taken) or the chain ends approved (skipped)."""
    now = datetime.now(UTC)
    chain = begin(HQ_WHEN_SHORT, facts, None, now)
    assert chain.current is not None and chain.current.name == "gm"
    gm = facts.role_holders["partner_gm"][0]
    chain, outcome = vote(chain, Decision.approve, gm, gm, now)
    if outcome == Outcome.approved:
        assert chain.skipped == ["hq"]
        return False
    assert outcome == Outcome.advanced and chain.current is not None
    return chain.current.name == "hq"


def test_covered_fund_skips_the_hq_stage(demo: Engine) -> None:
    seed_money(demo, amount="1000.00")
    facts = facts_of(demo)
    # 30 emails at 0.05; HQ's half (0.75) minus the 1000.00 available.
    assert (facts.expected_cost, facts.fund_shortfall) == (150, 75 - 100000)
    assert not hq_stage_taken(facts)


def test_short_fund_takes_the_hq_stage(demo: Engine) -> None:
    seed_money(demo, amount="0.50")
    facts = facts_of(demo)
    assert (facts.expected_cost, facts.fund_shortfall) == (150, 25)
    assert hq_stage_taken(facts)


def test_no_fund_means_no_shortfall(demo: Engine) -> None:
    seed_money(demo)  # Amsterdam's fund and the rates; Berlin has no fund
    facts = facts_of(demo, "berlin")
    assert (facts.expected_cost, facts.fund_shortfall) == (150, None)
    assert not hq_stage_taken(facts)


def test_money_facts_for_other_subjects(demo: Engine) -> None:
    seed_money(demo, amount="10.00")  # covers email and sms, not print
    today = datetime.now(UTC).date()
    with Session(demo) as s:
        ams = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one().id or 0
        assert money_facts(s, ams, "sms", 3000, today) == (3000, 1500 - 1000)
        assert money_facts(s, ams, "print", 3000, today) == (3000, None)
        assert money_facts(s, ams, "sms", None, today) == (None, None)
