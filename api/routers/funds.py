"""Co-op funds: allocation (one partner, a region, the brand; or a sheet), balances, the
ledger, the balance check, and the brand's cost rates (docs/funds.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Header, Query, Response, UploadFile

from api.deps import RequestIdDep, SessionDep, SettingsDep
from api.routers.campaign_sheets import read_upload
from api.routers.params import PagingDep, page_of
from api.security import FundManager, FundReader
from core.errors import FieldError, Forbidden, Problem
from core.policy import Permission, Target, allows
from models.fund_schemas import (
    AllocationRead,
    CheckRead,
    CostRateRead,
    CostRatesPut,
    FundAllocate,
    FundRead,
    ImportReport,
    LedgerEntryRead,
)
from models.schemas import Page
from services.funds import allocation, rates, reads
from services.funds import check as fund_check
from services.funds.sheet import import_sheet

router = APIRouter(prefix="/api/v1", tags=["funds"])
IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=120,
        description="retries with the same key allocate once",
    ),
]


@router.get("/funds", response_model=Page[FundRead], summary="List co-op funds")
def list_funds(
    principal: FundReader,
    session: SessionDep,
    paging: PagingDep,
    partner_id: Annotated[int | None, Query(ge=1, le=2**53)] = None,
    period: Annotated[str | None, Query(min_length=4, max_length=16)] = None,
    sort: str = reads.FUNDS.sort_query(),
) -> Page[FundRead]:
    """Partners see their own funds, region managers their region's, brand roles all."""
    result = reads.list_funds(
        session, principal, paging, partner_id=partner_id, period=period, sort=sort
    )
    return page_of(result, paging, reads.fund_reads(session, list(result.items)))


@router.post(
    "/funds",
    response_model=AllocationRead,
    status_code=201,
    summary="Allocate co-op money (Idempotency-Key supported)",
)
def allocate_funds(
    principal: FundManager,
    session: SessionDep,
    body: FundAllocate,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> AllocationRead:
    """Creates each partner's fund for the period on first allocation, then adds to it. With
    an Idempotency-Key a retry (or a parallel twin) books nothing twice and answers 200."""
    if idempotency_key is not None and not allocation.KEY_TEXT.match(idempotency_key):
        raise FieldError("Idempotency-Key", "use printable ASCII without spaces")
    terms = allocation.parse_terms(
        body.period, body.currency, body.amount, body.coop_share_percent, body.eligible_channels
    )
    out = allocation.allocate(
        session,
        principal,
        terms,
        partner_id=body.partner_id,
        region_id=body.region_id,
        idempotency_key=idempotency_key,
        note=body.note,
    )
    if out.allocated == 0:
        response.status_code = 200
    return AllocationRead(
        funds=reads.fund_reads(session, list(out.funds)),
        created=out.created,
        allocated=out.allocated,
    )


@router.post(
    "/funds/import",
    response_model=ImportReport,
    summary="Allocate from a sheet (XLSX or CSV), all rows or none",
)
async def import_funds(
    principal: FundManager,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[
        UploadFile,
        File(description="columns: partner, period, currency, amount, co-op share, channels"),
    ],
) -> ImportReport:
    """All or nothing: any refused cell is a 422 listing every one (`errors`: field and
    column, row, message, e.g. "row 4, column partner: no partner 'amsterdm'") and nothing is
    booked; otherwise every row is booked and the funds answered. The same file again books
    nothing more."""
    data = await read_upload(file, settings)
    result = import_sheet(session, principal, data, file.filename or "sheet")
    if not result.imported:
        session.rollback()
        raise Problem(
            f"{len(result.problems)} problem(s) in the sheet: nothing was booked",
            status=422,
            title="Sheet refused",
            errors=[
                {
                    "field": p.column,
                    "row": p.row,
                    "column": p.column,
                    "message": f"row {p.row}, column {p.column}: {p.message}",
                }
                for p in result.problems
            ],
        )
    return ImportReport(
        imported=True,
        rows=result.rows,
        funds=reads.fund_reads(session, list(result.funds)),
    )


@router.get("/funds/{fund_id}", response_model=FundRead, summary="Read a co-op fund")
def read_fund(principal: FundReader, session: SessionDep, fund_id: int) -> FundRead:
    return reads.fund_read(session, reads.load_fund(session, principal, fund_id))


@router.get(
    "/funds/{fund_id}/ledger",
    response_model=Page[LedgerEntryRead],
    summary="List a fund's ledger entries",
)
def list_fund_ledger(
    principal: FundReader,
    session: SessionDep,
    paging: PagingDep,
    fund_id: int,
    sort: str = reads.LEDGER.sort_query(),
) -> Page[LedgerEntryRead]:
    fund = reads.load_fund(session, principal, fund_id)
    result = reads.ledger_page(session, fund, paging, sort)
    return page_of(result, paging, (reads.entry_read(e) for e in result.items))


@router.get("/funds/{fund_id}/check", response_model=CheckRead, summary="Check a fund's balance")
def check_fund(principal: FundReader, session: SessionDep, fund_id: int) -> CheckRead:
    """Recomputes the balance from the ledger and its audit events; `problems` names each
    broken invariant (empty: balanced)."""
    fund = reads.load_fund(session, principal, fund_id)
    problems = fund_check.check(session, fund)
    return CheckRead(
        fund_id=fund_id,
        balanced=not problems,
        problems=problems,
        balance=reads.balance_read(session, fund),
    )


@router.get("/cost-rates", response_model=list[CostRateRead], summary="List the cost rates")
def list_cost_rates(principal: FundReader, session: SessionDep) -> list[CostRateRead]:
    return [CostRateRead.model_validate(r) for r in rates.list_rates(session, principal.brand_id)]


@router.put("/cost-rates", response_model=list[CostRateRead], summary="Replace the cost rates")
def replace_cost_rates(
    principal: FundManager, session: SessionDep, rid: RequestIdDep, body: CostRatesPut
) -> list[CostRateRead]:
    """The whole rate card at once: one currency, bands that do not overlap per channel and
    format (422 naming the rate)."""
    if not allows(principal, Permission.fund_manage, Target(principal.brand_id)):
        raise Forbidden("Your roles do not allow fund.manage over the brand's cost rates")
    rows = rates.replace(session, principal.brand_id, principal.user_id, rid, body.rates)
    return [CostRateRead.model_validate(r) for r in rows]
