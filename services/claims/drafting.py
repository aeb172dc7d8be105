"""Writing a claim from real spend: the fund ledger's spend entries of a partner campaign (cross-
checked with the delivery ledger's counts) or a print order's vendor invoice, the co-op share,
and the evidence that proves it.

The email evidence is the partner campaign's message drawn again from its approved content for
a placeholder recipient (services.withheld), with the Message-ID and date of the first message
really sent: the campaign exactly as approved and sent, without anybody's personal data. Its
HTML is stored in the asset store with its sha256.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from core.settings import Settings
from domain.money import CostChannel, LedgerKind
from domain.states import DeliveryStatus
from models.campaigns import PartnerCampaign
from models.claims import Claim
from models.delivery import Delivery
from models.funds import Fund, FundLedgerEntry
from models.print_orders import PrintOrder
from services import withheld
from services.funds.ledger import balance, share_of
from storage.base import BlobStore, brand_key

COUNTED = (DeliveryStatus.sent, DeliveryStatus.failed, DeliveryStatus.suppressed)
UNIT = {CostChannel.email: "message", CostChannel.sms: "segment", CostChannel.print: "copy"}


@dataclass
class Draft:
    """What a claim says before anybody has looked at it."""

    fund: Fund
    lines: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    # HQ's share already booked against the fund for this subject (added back for the cap).
    booked_share: int = 0


def window_closes_at(fund: Fund) -> datetime:
    """The end of the claim window: `claim_window_days` whole days after the period's last
    day (midnight UTC after the window's last day)."""
    last: date = fund.ends_on + timedelta(days=fund.claim_window_days)
    return datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)


def _spend_entries(session: Session, **subject: int) -> list[FundLedgerEntry]:
    query = select(FundLedgerEntry).where(FundLedgerEntry.kind == LedgerKind.spend)
    for name, value in subject.items():
        query = query.where(getattr(FundLedgerEntry, name) == value)
    return list(session.exec(query.order_by(col(FundLedgerEntry.id))).all())


def delivery_counts(session: Session, partner_campaign_id: int) -> dict[str, dict[str, int]]:
    """Messages by channel and final status, from the delivery ledger."""
    rows = session.exec(
        select(Delivery.channel, Delivery.status, func.count())
        .where(Delivery.partner_campaign_id == partner_campaign_id)
        .group_by(col(Delivery.channel), col(Delivery.status))
    ).all()
    out: dict[str, dict[str, int]] = {}
    for channel, status, n in rows:
        counts = out.setdefault(
            str(channel),
            {
                s.value: 0
                for s in (DeliveryStatus.sent, DeliveryStatus.failed, DeliveryStatus.suppressed)
            },
        )
        counts[DeliveryStatus(status).value] = counts.get(DeliveryStatus(status).value, 0) + int(n)
    return out


def _unit_minor(gross: int, quantity: int) -> int:
    return (gross + quantity // 2) // quantity if quantity else gross


def _line(
    channel: str, quantity: int, gross: int, eligible: bool, source: str, **extra: Any
) -> dict[str, Any]:
    unit = UNIT.get(CostChannel(channel), "unit") if channel in set(CostChannel) else "unit"
    return {
        "channel": channel,
        "quantity": quantity,
        "unit": unit,
        "unit_minor": _unit_minor(gross, quantity),
        "gross_minor": gross,
        "eligible": eligible,
        "source": source,
        **extra,
    }


def _cross_check(channel: str, quantity: int, counts: dict[str, dict[str, int]]) -> str:
    """Email is booked per message sent; SMS per segment, at least one per message sent."""
    sent = counts.get(channel, {}).get(DeliveryStatus.sent.value, 0)
    if channel == CostChannel.email:
        return "ok" if quantity == sent else f"ledger {quantity}, delivery ledger {sent} sent"
    if channel == CostChannel.sms:
        return "ok" if quantity >= sent else f"ledger {quantity} segments for {sent} sent"
    return "ok"


def _email_evidence(
    session: Session,
    settings: Settings,
    store: BlobStore,
    pc: PartnerCampaign,
    claim_id: int,
) -> dict[str, Any] | None:
    assert pc.id is not None
    first = session.exec(
        select(Delivery)
        .where(
            Delivery.partner_campaign_id == pc.id,
            Delivery.channel == CostChannel.email.value,
            Delivery.status == DeliveryStatus.sent,
        )
        .order_by(col(Delivery.sent_at), col(Delivery.id))
    ).first()
    if first is None:
        return None
    message = withheld.redraw(
        session,
        settings,
        pc.id,
        message_id=first.message_id or f"<claim-{claim_id}@brandrelay>",
        sent_at=first.sent_at or first.created_at,
    )
    if message is None:
        return None
    part = message.get_body(("html",))
    if part is None:
        return None
    html = str(part.get_content()).encode("utf-8")
    key = brand_key(pc.brand_id, "claims", str(claim_id), "email.html")
    store.put(key, html, "text/html; charset=utf-8")
    return {
        "kind": "email",
        "label": "The email as sent (recipient replaced by placeholders)",
        "key": key,
        "sha256": hashlib.sha256(html).hexdigest(),
        "content_type": "text/html; charset=utf-8",
        "filename": "email.html",
        "subject": str(message["Subject"] or ""),
        "message_id": str(message["Message-ID"] or ""),
    }


def for_partner_campaign(
    session: Session,
    settings: Settings,
    store: BlobStore,
    pc: PartnerCampaign,
    claim_id: int | None,
) -> Draft | None:
    """None: nothing of this campaign was booked against a fund (no fund, no eligible
    channel). `claim_id` None only checks (no evidence is stored)."""
    assert pc.id is not None
    entries = _spend_entries(session, partner_campaign_id=pc.id)
    if not entries:
        return None
    fund = session.get(Fund, entries[0].fund_id)
    assert fund is not None
    counts = delivery_counts(session, pc.id)
    draft = Draft(fund=fund)
    for e in entries:
        if e.fund_id != fund.id:
            continue
        eligible = e.channel in fund.eligible_channels
        draft.lines.append(
            _line(
                e.channel,
                e.quantity,
                e.gross_minor,
                eligible,
                "ledger",
                ledger_key=e.key,
                cross_check=_cross_check(e.channel, e.quantity, counts),
            )
        )
        draft.booked_share += -e.amount_minor
    if not any(line["eligible"] for line in draft.lines):
        return None
    if claim_id is not None:
        email = _email_evidence(session, settings, store, pc, claim_id)
        if email is not None:
            draft.evidence.append(email)
        draft.evidence.append(
            {
                "kind": "delivery_counts",
                "label": "Counts from the delivery ledger",
                "counts": counts,
            }
        )
    return draft


def for_print_order(session: Session, po: PrintOrder) -> Draft | None:
    """None: no vendor invoice yet, no fund, or print is not an eligible channel."""
    assert po.id is not None
    entries = _spend_entries(session, print_order_id=po.id)
    fund_id = po.fund_id if po.fund_id is not None else (entries[0].fund_id if entries else None)
    fund = session.get(Fund, fund_id) if fund_id is not None else None
    gross = po.invoice_minor
    if gross is None and entries:
        gross = entries[0].gross_minor
    if fund is None or gross is None or CostChannel.print.value not in fund.eligible_channels:
        return None
    draft = Draft(fund=fund)
    draft.lines.append(
        _line(
            CostChannel.print.value,
            po.quantity,
            gross,
            True,
            "vendor_invoice",
            format=po.format,
            vendor=po.vendor,
            vendor_order_id=po.vendor_order_id,
        )
    )
    draft.booked_share = sum(-e.amount_minor for e in entries if e.fund_id == fund.id)
    if po.pdf_key:
        draft.evidence.append(
            {
                "kind": "print_pdf",
                "label": "The print-ready PDF",
                "key": po.pdf_key,
                "sha256": po.pdf_sha256,
                "content_type": "application/pdf",
                "filename": f"print-order-{po.id}.pdf",
            }
        )
    draft.evidence.append(
        {
            "kind": "proof_of_delivery",
            "label": "The vendor's proof of delivery",
            "data": dict(po.proof_of_delivery),
        }
    )
    return draft


def covered(session: Session, fund: Fund, booked_share: int) -> int:
    """What the fund could cover for this claim: what is available now plus this subject's
    own spend already booked (it was taken from the available money), never below zero."""
    assert fund.id is not None
    return max(0, balance(session, fund.id).available + booked_share)


def totals(claim: Claim, cap: int) -> tuple[int, int]:
    """(eligible spend, claimed): HQ's share of the eligible lines, capped at `cap`."""
    spend = sum(int(line["gross_minor"]) for line in claim.lines if line.get("eligible"))
    return spend, min(share_of(spend, claim.coop_share_bp), cap)


def booked_share_of(session: Session, claim: Claim) -> int:
    """HQ's share of the claim's subject already booked as spend against its fund."""
    if claim.partner_campaign_id is not None:
        entries = _spend_entries(session, partner_campaign_id=claim.partner_campaign_id)
    elif claim.print_order_id is not None:
        entries = _spend_entries(session, print_order_id=claim.print_order_id)
    else:
        entries = []
    return sum(-e.amount_minor for e in entries if e.fund_id == claim.fund_id)


def recompute(session: Session, claim: Claim) -> None:
    """Spend and claimed amount from the claim's lines, capped at what the fund covers."""
    fund = session.get(Fund, claim.fund_id)
    assert fund is not None
    claim.spend_minor, claim.claimed_minor = totals(
        claim, covered(session, fund, booked_share_of(session, claim))
    )
