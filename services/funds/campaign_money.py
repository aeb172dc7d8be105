"""A partner campaign's co-op money, moved as its state changes (called from the projection
of each transition, in its transaction):

- approved: reserve HQ's share of the expected cost (`reserve-pc-<id>`) in the fund for the
  send day, for the channels the fund covers;
- rejected, declined, expired, cancelled: give the reservation back (`release-pc-<id>`);
- sent, partially_sent: book the spend per channel from the delivery ledger
  (`spend-pc-<id>-<channel>`, rows with status sent, priced by the rates) and give the
  reservation back (`booked-pc-<id>`).

Money never stops a campaign: without a fund, a covered channel or a rate nothing is booked,
and an audit event on the partner campaign says why (`fund.skipped`; not for a brand without
any fund, which does not use co-op money). Keys make every step
idempotent, so a retried projection books nothing twice.
"""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, col, select

from domain.money import CostChannel, LedgerKind
from domain.states import DeliveryStatus, PartnerCampaignState
from models.base import utcnow
from models.campaigns import PartnerCampaign
from models.contacts import Segment
from models.delivery import Delivery
from models.funds import Fund, FundLedgerEntry
from services import audit, segments
from services.funds import ledger, rates

log = logging.getLogger(__name__)
PC = PartnerCampaignState
RELEASING = frozenset({PC.rejected, PC.declined, PC.expired, PC.cancelled})
BOOKING = frozenset({PC.sent, PC.partially_sent})


def on_transition(session: Session, row: PartnerCampaign, to_state: PartnerCampaignState) -> None:
    """Move the money `to_state` calls for (nothing for the other states)."""
    try:
        if to_state == PC.approved:
            reserve(session, row)
        elif to_state in RELEASING:
            release(session, row, f"release-pc-{row.id}", f"partner campaign {to_state.value}")
        elif to_state in BOOKING:
            book_spend(session, row)
    except ledger.LedgerRefused as exc:  # a bug in the figures, never a reason to stop a send
        log.error("fund movement refused for partner campaign %s: %s", row.id, exc)
        _skipped(session, row, f"{to_state.value}-refused", str(exc))


def _send_day(row: PartnerCampaign) -> date:
    return (row.send_at or utcnow()).date()


def _skipped(session: Session, row: PartnerCampaign, step: str, why: str) -> None:
    """The audit trail says why no money moved (once per step); silent for a brand that has
    no fund at all (it does not use co-op money: nothing is missing)."""
    if session.exec(select(Fund.id).where(Fund.brand_id == row.brand_id)).first() is None:
        return
    audit.append_in(
        session,
        audit.NewEvent(
            brand_id=row.brand_id,
            region_id=row.region_id,
            partner_id=row.partner_id,
            actor=audit.SYSTEM_ACTOR,
            action="fund.skipped",
            entity_type="partner_campaign",
            entity_id=str(row.id),
            event_key=f"fund-skipped-pc-{row.id}-{step}",
            after={"step": step, "reason": why},
        ),
    )


def _reservation(session: Session, row: PartnerCampaign) -> tuple[Fund, FundLedgerEntry] | None:
    entry = session.exec(
        select(FundLedgerEntry).where(
            FundLedgerEntry.partner_campaign_id == row.id,
            FundLedgerEntry.key == f"reserve-pc-{row.id}",
        )
    ).first()
    if entry is None:
        return None
    fund = session.get(Fund, entry.fund_id)
    return (fund, entry) if fund is not None else None


def expected_counts(session: Session, row: PartnerCampaign) -> dict[CostChannel, int]:
    """Recipients per channel the send would reach now (one SMS segment each)."""
    segment = session.get(Segment, row.segment_id) if row.segment_id else None
    rules = dict(segment.filter) if segment is not None else {}
    audience = segments.audience_breakdown(
        session,
        row.brand_id,
        row.partner_id,
        rules,
        sms=segments.has_sms_variant(session, row.campaign_id),
    )
    return {CostChannel.email: audience.eligible_email, CostChannel.sms: audience.eligible_sms}


def _priced(
    session: Session, row: PartnerCampaign, fund: Fund, counts: dict[CostChannel, int]
) -> tuple[dict[CostChannel, tuple[int, int]], list[str]]:
    """channel -> (quantity, gross) for the channels the fund covers and the rates price in
    the fund's currency; and the reasons the others were left out."""
    out: dict[CostChannel, tuple[int, int]] = {}
    left_out: list[str] = []
    for channel, count in counts.items():
        if count <= 0:
            continue
        if channel.value not in fund.eligible_channels:
            left_out.append(f"{channel.value}: not covered by fund {fund.period}")
            continue
        est = rates.estimate(session, row.brand_id, channel, count)
        if est is None:
            left_out.append(f"{channel.value}: no cost rate for {count}")
        elif est.currency != fund.currency:
            left_out.append(f"{channel.value}: rate in {est.currency}, fund in {fund.currency}")
        else:
            out[channel] = (count, est.total_minor)
    return out, left_out


def reserve(session: Session, row: PartnerCampaign) -> None:
    fund = ledger.fund_for(session, row.partner_id, _send_day(row))
    if fund is None:
        _skipped(session, row, "reserve", f"no fund for {_send_day(row).isoformat()}")
        return
    priced, left_out = _priced(session, row, fund, expected_counts(session, row))
    share = sum(ledger.share_of(gross, fund.coop_share_bp) for _, gross in priced.values())
    if left_out:
        _skipped(session, row, "reserve-channels", "; ".join(left_out))
    if share <= 0:
        return
    ledger.post(
        session,
        fund,
        ledger.Movement(
            kind=LedgerKind.reservation,
            amount_minor=-share,
            key=f"reserve-pc-{row.id}",
            actor=audit.SYSTEM_ACTOR,
            gross_minor=sum(gross for _, gross in priced.values()),
            quantity=sum(q for q, _ in priced.values()),
            partner_campaign_id=row.id,
            note="expected cost at approval",
        ),
    )


def release(session: Session, row: PartnerCampaign, key: str, note: str) -> None:
    """Give back what `reserve-pc-<id>` holds, unless it was given back already."""
    found = _reservation(session, row)
    if found is None:
        return
    fund, entry = found
    given_back = session.exec(
        select(FundLedgerEntry.id).where(
            FundLedgerEntry.fund_id == fund.id,
            col(FundLedgerEntry.key).in_([f"release-pc-{row.id}", f"booked-pc-{row.id}"]),
        )
    ).first()
    if given_back is not None:
        return
    ledger.post(
        session,
        fund,
        ledger.Movement(
            kind=LedgerKind.release,
            amount_minor=-entry.amount_minor,
            key=key,
            actor=audit.SYSTEM_ACTOR,
            partner_campaign_id=row.id,
            note=note,
        ),
    )


def sent_counts(session: Session, partner_campaign_id: int) -> dict[CostChannel, int]:
    """Messages the delivery ledger knows as sent, per channel."""
    rows = session.exec(
        select(Delivery.channel, func.count())
        .where(
            Delivery.partner_campaign_id == partner_campaign_id,
            Delivery.status == DeliveryStatus.sent,
        )
        .group_by(col(Delivery.channel))
    ).all()
    known = {c.value for c in CostChannel}
    return {CostChannel(ch): int(n) for ch, n in rows if ch in known}


def book_spend(session: Session, row: PartnerCampaign) -> None:
    assert row.id is not None
    found = _reservation(session, row)
    fund = found[0] if found else ledger.fund_for(session, row.partner_id, _send_day(row))
    if fund is None:
        _skipped(session, row, "spend", f"no fund for {_send_day(row).isoformat()}")
        return
    priced, left_out = _priced(session, row, fund, sent_counts(session, row.id))
    if left_out:
        _skipped(session, row, "spend-channels", "; ".join(left_out))
    for channel, (quantity, gross) in priced.items():
        ledger.post(
            session,
            fund,
            ledger.Movement(
                kind=LedgerKind.spend,
                amount_minor=-ledger.share_of(gross, fund.coop_share_bp),
                key=f"spend-pc-{row.id}-{channel.value}",
                actor=audit.SYSTEM_ACTOR,
                gross_minor=gross,
                channel=channel.value,
                quantity=quantity,
                partner_campaign_id=row.id,
                note=f"{quantity} {channel.value} sent",
            ),
        )
    release(session, row, f"booked-pc-{row.id}", "spend booked")
