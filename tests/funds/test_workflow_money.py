"""Money through the real partner campaign workflow (time-skipping server, in-process worker,
real activities and database): the GM's approval holds HQ's share in Amsterdam's fund, HQ's
cancellation gives it back, and the fund checks out balanced."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from models.funds import Fund, FundLedgerEntry
from services.funds import check, ledger
from tests.campaigns.test_campaign_workflows import EDITOR_AMS as EDITOR
from tests.campaigns.test_campaign_workflows import (
    GM_AMS,
    Login,
    act,
    finish,
    launched,
    server_clock,
    submit_content,
)
from tests.delivery.test_delivery import add_contacts
from tests.funds.test_campaign_money import seed_money

__all__ = ["server_clock"]  # the campaign tests' clock fixture, used here too


async def test_approval_holds_and_cancellation_releases(
    app_with_worker: httpx.AsyncClient, login: Login, demo: Engine
) -> None:
    fund_id = seed_money(demo)
    add_contacts(demo, "amsterdam", 12, tag="wf")
    api = app_with_worker
    cid, pcid = await launched(api, login, demo)
    await submit_content(api, login, EDITOR, pcid)
    approved = await act(api, login, GM_AMS, pcid, "decision", decision="approve")
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    with Session(demo) as s:
        rows = s.exec(
            select(FundLedgerEntry.key, FundLedgerEntry.amount_minor)
            .where(FundLedgerEntry.partner_campaign_id == pcid)
            .order_by(col(FundLedgerEntry.id))
        ).all()
    # Everyone of Amsterdam's 12 contacts by email at 0.05: 0.60, HQ's half held.
    assert list(rows) == [(f"reserve-pc-{pcid}", -30)]
    await finish(api, login, demo, cid)
    with Session(demo) as s:
        rows = s.exec(
            select(FundLedgerEntry.key, FundLedgerEntry.amount_minor)
            .where(FundLedgerEntry.partner_campaign_id == pcid)
            .order_by(col(FundLedgerEntry.id))
        ).all()
        fund = s.get(Fund, fund_id)
        assert fund is not None
        assert list(rows) == [(f"reserve-pc-{pcid}", -30), (f"release-pc-{pcid}", 30)]
        assert ledger.balance(s, fund_id).available == 100000
        assert check.check(s, fund) == []
