"""The money facts an approval chain reads: what the thing is expected to cost, and how far
HQ's share of it is beyond what the partner's fund still has (`fund_shortfall`; above 0 the
fund is short, so a stage with `fund_shortfall gt 0` sends it to HQ).

A partner campaign's expected cost is its eligible audience priced per channel: each email at
the email rate and each SMS at the SMS-segment rate for ONE segment (the text is rendered per
recipient at send time; the real segments are not known at submission). The spend booked
after the send uses the same unit (services.funds.campaign_money).
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from domain.money import CostChannel
from services.funds import ledger, rates


def money_facts(
    session: Session, partner_id: int, channel: str, gross_minor: int | None, on: date
) -> tuple[int | None, int | None]:
    """(expected_cost, fund_shortfall) for one channel's cost `gross_minor` (None: unknown);
    the shortfall is None without a fund for `on` or when the fund does not cover `channel`."""
    return money_facts_multi(session, partner_id, {channel: gross_minor}, on)


def money_facts_multi(
    session: Session, partner_id: int, costs: dict[str, int | None], on: date
) -> tuple[int | None, int | None]:
    """The same over several channels: expected cost is their sum (None when none is known),
    the shortfall counts only the channels the fund covers."""
    known = {c: v for c, v in costs.items() if v is not None}
    if not known:
        return None, None
    expected = sum(known.values())
    fund = ledger.fund_for(session, partner_id, on)
    if fund is None or fund.id is None:
        return expected, None
    covered = [v for c, v in known.items() if c in fund.eligible_channels]
    if not covered:
        return expected, None
    share = sum(ledger.share_of(v, fund.coop_share_bp) for v in covered)
    return expected, share - ledger.balance(session, fund.id).available


def campaign_costs(session: Session, brand_id: int, emails: int, sms: int) -> dict[str, int | None]:
    """Per channel the estimated cost of `emails` emails and `sms` SMS (one segment each);
    channels with no recipients are left out, channels without a rate are None."""
    out: dict[str, int | None] = {}
    for channel, count in ((CostChannel.email, emails), (CostChannel.sms, sms)):
        if count > 0:
            est = rates.estimate(session, brand_id, channel, count)
            out[channel.value] = est.total_minor if est is not None else None
    return out
