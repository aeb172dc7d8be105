"""Approved (or paid) claims for finance, one row per claim line, as CSV or XLSX: amounts as
decimal strings, every text cell guarded against spreadsheet formulas (services.reporting.
export uses core.spreadsheet.safe_cell for both formats)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from core.policy import Permission, Principal
from domain.money import ClaimState
from models.claims import Claim
from models.funds import Fund
from models.org import Partner
from services.claims.access import list_claims
from services.funds.ledger import share_of
from services.reporting.export import Cell, csv_bytes, xlsx_bytes

HEADERS = (
    "claim_id",
    "state",
    "partner_code",
    "partner_name",
    "period",
    "currency",
    "channel",
    "description",
    "quantity",
    "gross",
    "eligible",
    "share",
    "claim_total",
    "payment_reference",
)


def decimal_text(minor: int) -> str:
    """1250 -> "12.50" (integers only)."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole}.{cents:02d}"


def rows(
    session: Session,
    principal: Principal,
    states: Sequence[ClaimState],
    period: str | None,
) -> list[list[Cell]]:
    out: list[list[Cell]] = []
    claims: list[Claim] = []
    for state in states:
        claims += list_claims(session, principal, state, 10_000, Permission.claim_pay)
    claims.sort(key=lambda c: c.id or 0)
    for claim in claims:
        fund = session.get(Fund, claim.fund_id)
        if fund is None or (period and fund.period != period):
            continue
        partner = session.get(Partner, claim.partner_id)
        code = partner.slug if partner else ""
        name = partner.display_name if partner else ""
        for line in claim.lines:
            gross = int(line.get("gross_minor", 0))
            eligible = bool(line.get("eligible"))
            out.append(
                [
                    claim.id,
                    claim.state.value,
                    str(code),
                    str(name),
                    fund.period,
                    claim.currency,
                    str(line.get("channel", "")),
                    str(line.get("description", "")),
                    int(line.get("quantity", 0)),
                    decimal_text(gross),
                    "yes" if eligible else "no",
                    decimal_text(share_of(gross, claim.coop_share_bp) if eligible else 0),
                    decimal_text(claim.claimed_minor),
                    claim.payment_reference,
                ]
            )
    return out


def export(
    session: Session,
    principal: Principal,
    fmt: str,
    states: Sequence[ClaimState],
    period: str | None,
) -> bytes:
    table = rows(session, principal, states, period)
    return xlsx_bytes(HEADERS, table) if fmt == "xlsx" else csv_bytes(HEADERS, table)
