"""What the print order's approval chain is given: the partner campaign's pinned policy, the
orderer as submitter, and the money facts (the quote, and HQ's share of it beyond the fund)."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session

from core.settings import Settings
from models.print_orders import PrintOrder
from services.print_orders.workflow_calls import workflow_input
from tests.print_orders.conftest import flyer_pc, fund_for, order_row


def test_the_chain_gets_the_pinned_policy_and_the_money_facts(
    demo: Engine, settings: Settings
) -> None:
    order_id = order_row(demo, flyer_pc(demo), quote_minor=9500)
    with Session(demo) as s:
        order = s.get(PrintOrder, order_id)
        assert order is not None
        without_fund = workflow_input(s, settings, order)
    assert without_fund.policy.name == "gm" and without_fund.ordered_by == order.ordered_by
    assert (without_fund.facts.expected_cost, without_fund.facts.fund_shortfall) == (9500, None)
    assert without_fund.facts.channel == "print" and without_fund.facts.audience_size == 500
    assert without_fund.facts.role_holders["partner_gm"], "Amsterdam's GM holds the role"

    fund_for(demo, "amsterdam", 1000)  # HQ's half of 95.00 is 47.50; the fund holds 10.00
    with Session(demo) as s:
        order = s.get(PrintOrder, order_id)
        assert order is not None
        short = workflow_input(s, settings, order)
    assert (short.facts.expected_cost, short.facts.fund_shortfall) == (9500, 3750)
