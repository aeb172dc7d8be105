"""The co-op report: one row per fund of a period with what HQ allocated, holds, spent (its
share, and the gross spend per channel), what partners claim and what was paid, plus totals per
currency (funds in different currencies are never added up).

Everything comes from the fund ledger and Claim rows in four statements however many funds
there are: the funds with their partner and region names, `ledger.balances`, the gross spend
per fund and channel, the claimed sums per fund. Who reads what follows the other reports
(services.reporting.scope): report.read over the brand or its regions; a partner's users, who
read their own fund (fund.read), see their own partners' rows. A fund is listed only when the
reader may also read it through fund.read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func
from sqlmodel import Session, col, select

from core.policy import Permission, Principal, visibility
from domain.money import ClaimState, LedgerKind
from models.claims import Claim
from models.funds import Fund, FundLedgerEntry
from models.org import Partner, Region
from services.funds import ledger
from services.funds.reads import visible
from services.funds.terms import Period, from_minor
from services.reporting.export import Cell
from services.reporting.scope import ReportScope, check
from services.reporting.shapes import ReportQuery

# Gross spend columns: the cost channels and the GM's invoices for local spend.
CHANNELS = ("email", "sms", "print", "local")
# Claims that still count as claimed: confirmed and waiting, decided for, or paid.
CLAIMED = (ClaimState.pending_approval, ClaimState.approved, ClaimState.paid)
# The amounts every row and total has, each as `<name>_minor` and as decimal text `<name>`.
MONEY = ("allocated", "reserved", "spent", "claimed", "paid", "available")


@dataclass
class CoopFigures:
    """Money of one fund, or of every fund in one currency (minor units and decimal text)."""

    currency: str
    allocated_minor: int = 0
    reserved_minor: int = 0
    spent_minor: int = 0  # HQ's share of booked spend
    claimed_minor: int = 0
    paid_minor: int = 0
    available_minor: int = 0
    gross_minor: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANNELS, 0))
    allocated: str = ""
    reserved: str = ""
    spent: str = ""
    claimed: str = ""
    paid: str = ""
    available: str = ""
    gross: dict[str, str] = field(default_factory=dict)
    utilisation: str = ""  # spent / allocated in percent, one decimal ("" without allocation)

    def minor(self, name: str) -> int:
        return int(getattr(self, f"{name}_minor"))

    def add(self, other: CoopFigures) -> None:
        for name in MONEY:
            setattr(self, f"{name}_minor", self.minor(name) + other.minor(name))
        for c in CHANNELS:
            self.gross_minor[c] += other.gross_minor.get(c, 0)

    def finish(self) -> None:
        """Writes the decimal texts and the utilisation from the minor units."""
        for name in MONEY:
            setattr(self, name, from_minor(self.minor(name), self.currency))
        self.gross = {c: from_minor(self.gross_minor.get(c, 0), self.currency) for c in CHANNELS}
        self.utilisation = utilisation(self.spent_minor, self.allocated_minor)


@dataclass
class CoopRow(CoopFigures):
    fund_id: int = 0
    partner_id: int = 0
    partner_name: str = ""
    region_id: int = 0
    region_name: str = ""
    period: str = ""
    coop_share_bp: int = 0


@dataclass(frozen=True)
class CoopReport:
    period: str
    starts_on: date
    ends_on: date
    region_id: int | None
    rows: list[CoopRow]
    totals: list[CoopFigures]  # one per currency, by currency code


def utilisation(spent: int, allocated: int) -> str:
    """62.5 for 625 of 1000; rounded half up to one decimal, integers and Decimal only."""
    if allocated <= 0:
        return ""
    value = (Decimal(spent) * 100 / Decimal(allocated)).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )
    return f"{value:.1f}"


def coop_scope(principal: Principal) -> ReportScope:
    """report.read reach (brand, regions), plus the partners whose funds a partner grant may
    read: an editor or GM reads its own partner's row."""
    reports = visibility(principal, Permission.report_read)
    funds = visibility(principal, Permission.fund_read)
    return ReportScope(
        brand_id=principal.brand_id,
        whole_brand=reports.whole_brand,
        region_ids=reports.region_ids,
        partner_ids=reports.partner_ids | funds.partner_ids,
    )


def coop_report(
    session: Session, principal: Principal, period: Period, region_id: int | None = None
) -> CoopReport:
    """Funds whose days lie within `period` (2026 lists the year's funds, quarters and months
    alike), within the reader's scope and the region filter (outside the scope: not found)."""
    scope = coop_scope(principal)
    check(session, scope, ReportQuery(region_id=region_id))
    stmt = (
        select(Fund, Partner.display_name, Region.name)
        .join(Partner, col(Partner.id) == col(Fund.partner_id))
        .join(Region, col(Region.id) == col(Fund.region_id))
        .where(
            scope.where(col(Fund.brand_id), col(Fund.region_id), col(Fund.partner_id)),
            visible(principal),
            col(Fund.starts_on) >= period.starts_on,
            col(Fund.ends_on) <= period.ends_on,
        )
        .order_by(col(Partner.display_name), col(Fund.starts_on), col(Fund.id))
    )
    if region_id is not None:
        stmt = stmt.where(Fund.region_id == region_id)
    found = session.exec(stmt).all()
    ids = [f.id for f, _, _ in found if f.id is not None]
    balances = ledger.balances(session, ids)
    gross = _gross(session, ids)
    claimed = _claimed(session, ids)
    rows: list[CoopRow] = []
    totals: dict[str, CoopFigures] = {}
    for fund, partner_name, region_name in found:
        assert fund.id is not None
        b = balances[fund.id]
        row = CoopRow(
            currency=fund.currency,
            allocated_minor=b.allocated,
            reserved_minor=b.reserved,
            spent_minor=b.spent,
            claimed_minor=claimed.get(fund.id, 0),
            paid_minor=b.paid,
            available_minor=b.available,
            gross_minor={c: gross[fund.id].get(c, 0) for c in CHANNELS},
            fund_id=fund.id,
            partner_id=fund.partner_id,
            partner_name=partner_name,
            region_id=fund.region_id,
            region_name=region_name,
            period=fund.period,
            coop_share_bp=fund.coop_share_bp,
        )
        row.finish()
        rows.append(row)
        totals.setdefault(fund.currency, CoopFigures(currency=fund.currency)).add(row)
    for t in totals.values():
        t.finish()
    return CoopReport(
        period=period.name,
        starts_on=period.starts_on,
        ends_on=period.ends_on,
        region_id=region_id,
        rows=rows,
        totals=[totals[c] for c in sorted(totals)],
    )


def _gross(session: Session, ids: list[int]) -> dict[int, dict[str, int]]:
    """Full booked cost per fund and channel (spend rows' gross_minor)."""
    out: dict[int, dict[str, int]] = defaultdict(dict)
    if not ids:
        return out
    e = FundLedgerEntry
    rows = session.exec(
        select(e.fund_id, e.channel, func.coalesce(func.sum(e.gross_minor), 0))
        .where(col(e.fund_id).in_(ids), e.kind == LedgerKind.spend)
        .group_by(col(e.fund_id), col(e.channel))
    ).all()
    for fund_id, channel, total in rows:
        out[int(fund_id)][str(channel)] = int(total)
    return out


def _claimed(session: Session, ids: list[int]) -> dict[int, int]:
    """HQ's share claimed per fund, over claims confirmed, approved or paid."""
    if not ids:
        return {}
    rows = session.exec(
        select(Claim.fund_id, func.coalesce(func.sum(Claim.claimed_minor), 0))
        .where(col(Claim.fund_id).in_(ids), col(Claim.state).in_(CLAIMED))
        .group_by(col(Claim.fund_id))
    ).all()
    return {int(f): int(total) for f, total in rows}


HEADERS = (
    "fund_id",
    "partner",
    "region",
    "period",
    "currency",
    "allocated",
    "reserved",
    "spent_hq_share",
    *(f"gross_{c}" for c in CHANNELS),
    "claimed",
    "paid",
    "available",
    "utilisation_percent",
)


def _money_cells(f: CoopFigures) -> list[Cell]:
    return [
        f.allocated,
        f.reserved,
        f.spent,
        *(f.gross[c] for c in CHANNELS),
        f.claimed,
        f.paid,
        f.available,
        f.utilisation,
    ]


def table(report: CoopReport) -> tuple[list[str], list[list[Cell]]]:
    """The rows, then one "Total" row per currency; amounts as decimal text."""
    out: list[list[Cell]] = [
        [r.fund_id, r.partner_name, r.region_name, r.period, r.currency, *_money_cells(r)]
        for r in report.rows
    ]
    out += [["", "Total", "", report.period, t.currency, *_money_cells(t)] for t in report.totals]
    return list(HEADERS), out
