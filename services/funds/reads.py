"""Reading funds within the caller's reach: partners see their own, region managers their
region's, brand roles the brand's. Another partner's fund is not found (404), as elsewhere."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlmodel import Session, col, select

from core.errors import NotFound
from core.policy import Permission, Principal
from models.fund_schemas import BalanceRead, FundRead, LedgerEntryRead
from models.funds import Fund, FundLedgerEntry
from models.org import Partner
from services.access import scope_filter
from services.funds import ledger
from services.funds.terms import from_minor
from services.paging import Key, Listing, Paged, PageRequest, fetch

FUNDS = Listing(
    "funds",
    col(Fund.id),
    {
        "id": Key(col(Fund.id), "int"),
        "period": Key(col(Fund.period), "str"),
        "created_at": Key(col(Fund.created_at), "datetime"),
    },
    default="-id",
)
LEDGER = Listing(
    "fund-ledger",
    col(FundLedgerEntry.id),
    {"id": Key(col(FundLedgerEntry.id), "int"), "at": Key(col(FundLedgerEntry.at), "datetime")},
    default="-id",
)


def visible(principal: Principal) -> Any:
    return scope_filter(
        principal, Fund.brand_id, Fund.region_id, Fund.partner_id, Permission.fund_read
    )


def load_fund(session: Session, principal: Principal, fund_id: int) -> Fund:
    fund = session.exec(select(Fund).where(Fund.id == fund_id, visible(principal))).first()
    if fund is None:
        raise NotFound("fund", fund_id)
    return fund


def balance_read(session: Session, fund: Fund, b: ledger.Balance | None = None) -> BalanceRead:
    assert fund.id is not None
    if b is None:
        b = ledger.balance(session, fund.id)
    return BalanceRead(
        allocated_minor=b.allocated,
        reserved_minor=b.reserved,
        spent_minor=b.spent,
        paid_minor=b.paid,
        available_minor=b.available,
        available=from_minor(b.available, fund.currency),
    )


def fund_read(
    session: Session,
    fund: Fund,
    partner_name: str | None = None,
    b: ledger.Balance | None = None,
) -> FundRead:
    assert fund.id is not None
    if partner_name is None:
        partner = session.get(Partner, fund.partner_id)
        partner_name = partner.display_name if partner else ""
    return FundRead(
        id=fund.id,
        brand_id=fund.brand_id,
        region_id=fund.region_id,
        partner_id=fund.partner_id,
        partner_name=partner_name,
        period=fund.period,
        starts_on=fund.starts_on,
        ends_on=fund.ends_on,
        currency=fund.currency,
        coop_share_bp=fund.coop_share_bp,
        eligible_channels=list(fund.eligible_channels),
        claim_window_days=fund.claim_window_days,
        created_at=fund.created_at,
        balance=balance_read(session, fund, b),
    )


def partner_names(session: Session, partner_ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(partner_ids))
    if not wanted:
        return {}
    rows = session.exec(
        select(Partner.id, Partner.display_name).where(col(Partner.id).in_(wanted))
    ).all()
    return {int(i): name for i, name in rows if i is not None}


def fund_reads(session: Session, funds: Sequence[Fund]) -> list[FundRead]:
    """A page of funds in two statements (partner names, balances), however long the page:
    one lookup per fund made a 200-row page cost 400 queries."""
    names = partner_names(session, (f.partner_id for f in funds))
    sums = ledger.balances(session, (f.id for f in funds if f.id is not None))
    return [fund_read(session, f, names.get(f.partner_id, ""), sums.get(f.id or 0)) for f in funds]


def list_funds(
    session: Session,
    principal: Principal,
    paging: PageRequest,
    *,
    partner_id: int | None = None,
    period: str | None = None,
    sort: str = FUNDS.default,
) -> Paged[Fund]:
    stmt = select(Fund).where(visible(principal))
    if partner_id is not None:
        stmt = stmt.where(Fund.partner_id == partner_id)
    if period is not None:
        stmt = stmt.where(Fund.period == period)
    return fetch(session, stmt, FUNDS, sort, paging)


def ledger_page(
    session: Session, fund: Fund, paging: PageRequest, sort: str = LEDGER.default
) -> Paged[FundLedgerEntry]:
    stmt = select(FundLedgerEntry).where(FundLedgerEntry.fund_id == fund.id)
    return fetch(session, stmt, LEDGER, sort, paging)


def entry_read(entry: FundLedgerEntry) -> LedgerEntryRead:
    return LedgerEntryRead.model_validate(entry)
