"""Reports over the brand's partner campaigns: funnel, time to market, quality, delivery,
trend (report.read, within the reader's brand or region), and a partner's own report next to
its region's median (partner_campaign.read: a partner's editors and GM read their own).

Thin: the query parameters become a ReportQuery, services.reporting answers with its shapes,
and `format=csv|xlsx` turns the report's table into a download. A region, partner or campaign
filter outside the reader's scope is 404, like any object of another tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from sqlmodel import Session

from api.deps import SessionDep
from api.security import Authorize, FundReader, PartnerCampaignReader
from core.errors import FieldError
from core.policy import Permission, Principal
from services.funds.terms import Period as FundPeriod
from services.funds.terms import TermError, parse_period, quarter_of
from services.reporting.coop import CoopReport, coop_report
from services.reporting.coop import table as coop_table
from services.reporting.engagement import delivery
from services.reporting.export import Report, csv_bytes, table_of, xlsx_bytes
from services.reporting.funnel import funnel
from services.reporting.mine import my_report
from services.reporting.quality import quality
from services.reporting.scope import ReportScope, check, scope_for
from services.reporting.shapes import (
    DeliveryReport,
    FunnelReport,
    Grouping,
    MyReport,
    Period,
    QualityReport,
    ReportQuery,
    TimeToMarketReport,
    TrendReport,
)
from services.reporting.timing import time_to_market
from services.reporting.trend import trend

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

ReportReader = Annotated[Principal, Depends(Authorize(Permission.report_read))]
Format = Literal["json", "csv", "xlsx"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_DAYS = 3660  # ten years: a longer window is a typo


def report_query(
    since: Annotated[date | None, Query(description="first UTC day (included)")] = None,
    until: Annotated[date | None, Query(description="UTC day after the last (excluded)")] = None,
    campaign_id: Annotated[int | None, Query(ge=1, le=2**31)] = None,
    region_id: Annotated[int | None, Query(ge=1, le=2**31)] = None,
    partner_id: Annotated[int | None, Query(ge=1, le=2**31)] = None,
    channel: Annotated[
        Literal["email", "sms"] | None, Query(description="only this channel")
    ] = None,
    group: Annotated[Grouping, Query(description="rows per campaign, region or partner")] = (
        "region"
    ),
    period: Annotated[Period, Query(description="trend points per week or month")] = "week",
) -> ReportQuery:
    if since is not None and until is not None:
        if until <= since:
            raise FieldError("until", "must be after since (until is the day after the last)")
        if (until - since).days > MAX_DAYS:
            raise FieldError("until", f"at most {MAX_DAYS} days after since")
    return ReportQuery(
        since=since,
        until=until,
        campaign_id=campaign_id,
        region_id=region_id,
        partner_id=partner_id,
        channel=channel,
        group=group,
        period=period,
    )


QueryDep = Annotated[ReportQuery, Depends(report_query)]
FormatQ = Annotated[Format, Query(description="json, or a csv / xlsx download of the table")]


def _scoped(session: Session, principal: Principal, q: ReportQuery) -> ReportScope:
    scope = scope_for(session, principal)
    check(session, scope, q)
    return scope


def _answer(report: Report, name: str, fmt: Format, table: str | None = None) -> Any:
    if fmt == "json":
        return report
    headers, rows = table_of(report, table)
    suffix = f"-{table}" if table else ""
    filename = f"report-{name}{suffix}.{fmt}"
    data, media = (
        (csv_bytes(headers, rows), "text/csv; charset=utf-8")
        if fmt == "csv"
        else (xlsx_bytes(headers, rows), XLSX)
    )
    return Response(
        data,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def _table(value: str | None, allowed: set[str]) -> str | None:
    if value is not None and value not in allowed:
        raise FieldError("table", f"must be one of {', '.join(sorted(allowed))}")
    return value


FILES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}, XLSX: {}}, "description": "the report, or its table"}
}


def _route(path: str, model: type, name: str, summary: str) -> Callable[[Callable[..., Any]], Any]:
    return router.get(
        path, response_model=model, responses=FILES, name=f"reports.{name}", summary=summary
    )


@_route("/funnel", FunnelReport, "funnel", "Report: the approval funnel")
def funnel_report(
    principal: ReportReader,
    session: SessionDep,
    q: QueryDep,
    format: FormatQ = "json",
    table: Annotated[str | None, Query(description="csv/xlsx: 'stuck' for the stuck list")] = None,
) -> Any:
    part = _table(table, {"stuck"})
    return _answer(funnel(session, _scoped(session, principal, q), q), "funnel", format, part)


@_route("/time-to-market", TimeToMarketReport, "time_to_market", "Report: time to market")
def time_to_market_report(
    principal: ReportReader,
    session: SessionDep,
    q: QueryDep,
    format: FormatQ = "json",
    table: Annotated[
        str | None, Query(description="csv/xlsx: 'overdue' for the overdue approvals")
    ] = None,
) -> Any:
    part = _table(table, {"overdue"})
    report = time_to_market(session, _scoped(session, principal, q), q)
    return _answer(report, "time-to-market", format, part)


@_route("/quality", QualityReport, "quality", "Report: content quality")
def quality_report(
    principal: ReportReader, session: SessionDep, q: QueryDep, format: FormatQ = "json"
) -> Any:
    return _answer(quality(session, _scoped(session, principal, q), q), "quality", format)


@_route("/delivery", DeliveryReport, "delivery", "Report: delivery and engagement")
def delivery_report(
    principal: ReportReader, session: SessionDep, q: QueryDep, format: FormatQ = "json"
) -> Any:
    return _answer(delivery(session, _scoped(session, principal, q), q), "delivery", format)


@_route("/trend", TrendReport, "trend", "Report: trend per week or month")
def trend_report(
    principal: ReportReader, session: SessionDep, q: QueryDep, format: FormatQ = "json"
) -> Any:
    return _answer(trend(session, _scoped(session, principal, q), q), "trend", format)


@_route("/mine", MyReport, "mine", "Report: a partner's own figures beside its region's median")
def my_partner_report(
    principal: PartnerCampaignReader, session: SessionDep, q: QueryDep, format: FormatQ = "json"
) -> Any:
    return _answer(my_report(session, _scoped(session, principal, q), q), "mine", format)


def coop_period(
    period: Annotated[
        str | None,
        Query(max_length=16, description="2026-Q4, 2026 or 2026-10 (default: this quarter)"),
    ] = None,
) -> FundPeriod:
    if period is None or not period.strip():
        return quarter_of(datetime.now(UTC).date())
    try:
        return parse_period(period)
    except TermError as e:
        raise FieldError("period", str(e)) from None


@router.get(
    "/coop",
    response_model=CoopReport,
    responses={200: {"content": {"text/csv": {}, XLSX: {}}, "description": "the report"}},
    name="reports.coop",
    summary="Report: co-op funds, spend, claims and payments per fund",
)
def coop_funds_report(
    principal: FundReader,
    session: SessionDep,
    period: Annotated[FundPeriod, Depends(coop_period)],
    region_id: Annotated[int | None, Query(ge=1, le=2**31)] = None,
    format: FormatQ = "json",
) -> Any:
    """One row per fund of the period (funds lying within it), totals per currency. Brand and
    region readers see their reach; a partner's users their own fund; another region: 404."""
    report = coop_report(session, principal, period, region_id)
    if format == "json":
        return report
    headers, rows = coop_table(report)
    data, media = (
        (csv_bytes(headers, rows), "text/csv; charset=utf-8")
        if format == "csv"
        else (xlsx_bytes(headers, rows), XLSX)
    )
    return Response(
        data,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="report-coop-{report.period}.{format}"',
            "Cache-Control": "no-store",
        },
    )
