"""Reports in the portal: `/reports` for HQ and region managers (within their grants), and
`/my-reports` for a partner's editor and GM (their club beside its region's median).

Figures come from services.reporting, exactly as GET /api/v1/reports/... answers them; the
charts are server-side SVG (api.portal.charts). The API's export routes need a bearer token the
portal's cookie session does not carry, so each table's CSV and XLSX links point at the portal's
own download routes below, which call the same export functions (services.reporting.export,
guarded by core.spreadsheet's safe_cell) under the same scope and filters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from babel.dates import format_date
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from sqlmodel import Session, col, select

from api.deps import SessionDep
from api.portal import charts
from api.portal.paging import Blank, IdFilter
from api.portal.web import PortalAuthorize, PortalRoute, render
from core.errors import NotFound, Problem
from core.policy import Permission, Principal
from i18n.catalogues import language_of
from i18n.context import current_locale
from i18n.formats import number
from i18n.labels import state_label
from i18n.translate import N_, gettext
from models.campaigns import Campaign, PartnerCampaign
from models.org import Partner, Region
from services.funds.terms import TermError, parse_period, quarter_of
from services.reporting import coop, engagement, export, funnel, mine, quality, timing, trend
from services.reporting.scope import ReportScope, check, scope_for
from services.reporting.shapes import (
    DELIVERY_COLUMNS,
    CycleStats,
    FunnelReport,
    MyReport,
    ReportQuery,
    TrendReport,
)

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])

PortalReportReader = Annotated[Principal, Depends(PortalAuthorize(Permission.report_read))]
PortalOwnReportReader = Annotated[
    Principal, Depends(PortalAuthorize(Permission.partner_campaign_edit))
]
CAMPAIGN_CHOICES = 500  # the newest launched campaigns offered as a filter
DEFAULT_WEEKS = 12  # without `since`, the reports look back this far
FUNNEL_STEPS = ("invited", "drafting", "submitted", "approved", "sent")
Name = Literal["funnel", "time-to-market", "quality", "delivery", "trend"]
Format = Literal["csv", "xlsx"]
PartFilter = Annotated[Literal["stuck", "overdue"] | None, Blank, Query()]
DateFilter = Annotated[date | None, Blank, Query()]
GroupFilter = Annotated[Literal["campaign", "region", "partner"] | None, Blank, Query()]
PeriodFilter = Annotated[Literal["week", "month"] | None, Blank, Query()]
# Short column headings for the delivery table (every channel has the same columns).
DELIVERY_HEADINGS = {
    "recipients": N_("Recipients"),
    "sent": N_("Sent"),
    "failed": N_("Failed"),
    "suppressed": N_("Suppressed"),
    "delivered": N_("Delivered"),
    "bounced": N_("Bounced"),
    "complained": N_("Complaints"),
    "unsubscribed": N_("Unsubscribed"),
    "opened": N_("Opens"),
    "opened_unique": N_("Opened (unique)"),
    "clicked": N_("Clicks"),
    "clicked_unique": N_("Clicked (unique)"),
}
# The filters' words (the values stay the API's).
GROUP_NAMES = {"region": N_("region"), "campaign": N_("campaign"), "partner": N_("partner")}
PERIOD_NAMES = {"week": N_("week"), "month": N_("month")}
# The club's figures (services.reporting.mine.FIGURES), by metric.
FIGURE_LABELS = {
    "submitted": N_("Campaigns submitted"),
    "days_to_submission": N_("Median days to submission"),
    "approval_hours": N_("Median hours to approval"),
    "sent": N_("Messages sent"),
    "open_rate": N_("Open rate"),
    "click_rate": N_("Click rate"),
}


def _translated(table: dict[str, str]) -> dict[str, str]:
    return {key: gettext(label) for key, label in table.items()}


# The trend chart's bars and line, the first figure found of each list.
TREND_BARS = ("sent", "delivery.sent", "state.sent", "recipients", "delivery.recipients")
TREND_LINE = ("opened_unique", "engagement.opened_unique", "opened", "submitted", "state.sent")


class BadFilter(Problem):
    status = 422
    title = "Invalid input"


def duration(seconds: float | None) -> str:
    """3600 -> "1.0 h", 2 days -> "2.0 d"; None -> "-"."""
    if seconds is None:
        return "-"
    if seconds < 3600:
        return gettext("%(n)s min", n=number(round(seconds / 60)))
    if seconds < 2 * 86400:
        return gettext("%(n)s h", n=number(round(seconds / 3600, 1)))
    return gettext("%(n)s d", n=number(round(seconds / 86400, 1)))


def _query(
    since: date | None,
    until: date | None,
    campaign_id: int | None,
    region_id: int | None,
    group: str | None,
    period: str | None,
    *,
    today: date | None = None,
) -> ReportQuery:
    if since is not None and until is not None and until <= since:
        raise BadFilter(gettext("Please check: until (it must be after since)."))
    today = today or datetime.now(UTC).date()
    return ReportQuery(
        since=since if since is not None else today - timedelta(weeks=DEFAULT_WEEKS),
        until=until,
        campaign_id=campaign_id,
        region_id=region_id,
        group=group or "region",  # type: ignore[arg-type]
        period=period or "week",  # type: ignore[arg-type]
    )


def _filters(q: ReportQuery) -> dict[str, str]:
    """The query as the page's own URL parameters (for links that keep the filters)."""
    raw = {
        "since": q.since.isoformat() if q.since else None,
        "until": q.until.isoformat() if q.until else None,
        "campaign_id": q.campaign_id,
        "region_id": q.region_id,
        "group": q.group,
        "period": q.period,
    }
    return {k: str(v) for k, v in raw.items() if v is not None}


def _choices(
    session: Session, scope: ReportScope
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The campaigns and regions the filters offer: only those within the reader's scope."""
    pc = PartnerCampaign
    offered = select(Campaign.id, Campaign.name).where(
        Campaign.brand_id == scope.brand_id, col(Campaign.launched_at).is_not(None)
    )
    if not scope.whole_brand:  # only campaigns that reached the reader's partners
        offered = offered.where(
            col(Campaign.id).in_(
                select(pc.campaign_id)
                .where(scope.where(col(pc.brand_id), col(pc.region_id), col(pc.partner_id)))
                .distinct()
            )
        )
    campaigns = session.exec(
        offered.order_by(col(Campaign.launched_at).desc()).limit(CAMPAIGN_CHOICES)
    ).all()
    regions_q = select(Region.id, Region.name).where(Region.brand_id == scope.brand_id)
    if not scope.whole_brand:
        regions_q = regions_q.where(col(Region.id).in_(sorted(scope.region_ids) or [-1]))
    regions = session.exec(regions_q.order_by(col(Region.name))).all()
    return (
        [(int(i or 0), n) for i, n in campaigns],
        [(int(i or 0), n) for i, n in regions],
    )


@dataclass(frozen=True)
class Reports:
    funnel: FunnelReport
    time_to_market: Any
    quality: Any
    delivery: Any
    trend: TrendReport


BUILDERS: dict[str, Callable[[Session, ReportScope, ReportQuery], Any]] = {
    "funnel": funnel.funnel,
    "time-to-market": timing.time_to_market,
    "quality": quality.quality,
    "delivery": engagement.delivery,
    "trend": trend.trend,
}


def _period_label(start: date, period: str) -> str:
    """'Jan 2027' / 'Jan. 2027' / 'jan 2027' per month, '04 Jan' per week: Babel, not strftime."""
    return format_date(start, "MMM y" if period == "month" else "dd MMM", locale=_babel_here())


def trend_heading(column: str) -> str:
    """A trend column ("delivery.sent") as a heading: its part's words and the figure's."""
    part, _, figure = column.rpartition(".")
    words = (
        gettext(DELIVERY_HEADINGS[figure]) if figure in DELIVERY_HEADINGS else state_label(figure)
    )
    return f"{state_label(part)}: {words}" if part else words


def _babel_here() -> str:
    lang = language_of(current_locale())
    return "en_GB" if lang == "en" else lang


def _pick(keys: set[str], wanted: tuple[str, ...]) -> str | None:
    return next((k for k in wanted if k in keys), None)


def _trend_chart(report: TrendReport) -> tuple[Markup, list[str]]:
    columns = list(dict.fromkeys(k for p in report.points for k in p.figures))
    keys = set(columns)
    bars = _pick(keys, TREND_BARS) or (columns[0] if columns else None)
    line = _pick(keys - {bars or ""}, TREND_LINE)
    labels = [_period_label(p.start, report.period) for p in report.points]
    series = [
        charts.Series(
            trend_heading(name),
            [p.figures.get(name, 0) for p in report.points],
        )
        for name in (bars, line)
        if name
    ]
    title = gettext("Per week") if report.period == "week" else gettext("Per month")
    return charts.timeseries(labels, series, title=title), columns


def _stats_rows(stats: list[CycleStats]) -> list[dict[str, Any]]:
    return [
        {
            "label": s.label,
            "stage": s.stage,
            "count": s.count,
            "median": duration(s.median_seconds),
            "p90": duration(s.p90_seconds),
        }
        for s in stats
    ]


@router.get("/reports", response_class=HTMLResponse)
def reports_page(
    principal: PortalReportReader,
    request: Request,
    session: SessionDep,
    since: DateFilter = None,
    until: DateFilter = None,
    campaign_id: IdFilter = None,
    region_id: IdFilter = None,
    group: GroupFilter = None,
    period: PeriodFilter = None,
) -> HTMLResponse:
    """Every section for the filters: funnel, time to market, quality, delivery, trend."""
    scope = scope_for(session, principal)
    q = _query(since, until, campaign_id, region_id, group, period)
    check(session, scope, q)
    built = Reports(*(BUILDERS[name](session, scope, q) for name in BUILDERS))
    total = built.funnel.total
    steps = [(state_label(s).capitalize(), int(getattr(total, s))) for s in FUNNEL_STEPS]
    trend_svg, trend_columns = _trend_chart(built.trend)
    tm = built.time_to_market
    campaigns, regions = _choices(session, scope)
    filters = _filters(q)
    return render(
        request,
        "reports.html",
        title=gettext("Reports"),
        q=q,
        filters=filters,
        campaigns=campaigns,
        regions=regions,
        whole_brand=scope.whole_brand,
        reports=built,
        funnel_svg=charts.funnel(steps, title=gettext("Participation funnel")),
        approval_svg=charts.histogram(
            tm.approval_hours, title=gettext("Time from submission to approval")
        ),
        trend_svg=trend_svg,
        trend_columns=trend_columns,
        to_submission=_stats_rows(tm.to_submission),
        to_approval=_stats_rows(tm.to_approval),
        stages=_stats_rows(tm.stages),
        steps=(*FUNNEL_STEPS, "declined", "expired", "rejected"),
        delivery_columns=DELIVERY_COLUMNS,
        delivery_headings=_translated(DELIVERY_HEADINGS),
        group_names=_translated(GROUP_NAMES),
        period_names=_translated(PERIOD_NAMES),
        trend_heading=trend_heading,
        duration=duration,
        period_label=_period_label,
        export_url=lambda name, fmt, part=None: _export_url(name, fmt, part, filters),
    )


def _export_url(name: str, fmt: str, part: str | None, filters: dict[str, str]) -> str:
    """The portal's download route for one table, with the page's filters."""
    wanted = {**filters, "format": fmt, **({"part": part} if part else {})}
    return f"/reports/export/{name}?" + urlencode(wanted)


def _download(report: Any, name: str, fmt: str, part: str | None = None) -> Response:
    headers, rows = export.table_of(report, part)
    name = f"{name}-{part}" if part else name
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    if fmt == "xlsx":
        body = export.xlsx_bytes(headers, rows)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body = export.csv_bytes(headers, rows)
        media = "text/csv; charset=utf-8"
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="report-{name}-{stamp}.{fmt}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/reports/export/{name}")
def report_download(
    principal: PortalReportReader,
    session: SessionDep,
    name: Name,
    format: Annotated[Format, Query()] = "csv",  # the API's parameter name
    part: PartFilter = None,
    since: DateFilter = None,
    until: DateFilter = None,
    campaign_id: IdFilter = None,
    region_id: IdFilter = None,
    group: GroupFilter = None,
    period: PeriodFilter = None,
) -> Response:
    """One section's table as CSV or XLSX, for the same filters as the page (`part`: the
    funnel's stuck partners, time to market's overdue approvals)."""
    if part is not None and (name, part) not in (
        ("funnel", "stuck"),
        ("time-to-market", "overdue"),
    ):
        raise BadFilter(f"Please check: part ({name} has no {part} table).")
    scope = scope_for(session, principal)
    q = _query(since, until, campaign_id, region_id, group, period)
    check(session, scope, q)
    return _download(BUILDERS[name](session, scope, q), name, format, part)


def _own(
    session: Session,
    principal: Principal,
    partner_id: int | None,
    since: date | None,
    until: date | None,
) -> tuple[ReportScope, ReportQuery, list[tuple[int, str]]] | None:
    """The reader's partners (a user may work for more than one) and the one shown; None for
    readers with brand or region reach, whose reports are at /reports."""
    scope = scope_for(session, principal)
    if not scope.partner_only:
        return None
    q = _query(since, until, None, None, None, None)
    ids = sorted(scope.partner_ids)
    names = session.exec(
        select(Partner.id, Partner.display_name)
        .where(col(Partner.id).in_(ids or [-1]), Partner.brand_id == principal.brand_id)
        .order_by(col(Partner.display_name))
    ).all()
    mine_ = [(int(i or 0), n) for i, n in names]
    chosen = partner_id if partner_id is not None else (mine_[0][0] if mine_ else None)
    if chosen is None or chosen not in ids:
        raise NotFound("partner", partner_id or 0)
    return scope, replace(q, partner_id=chosen), mine_


def _shown(metric: str, value: float | None) -> float | None:
    """Rates (fractions) as percentages; other figures as they are."""
    if value is None:
        return None
    return round(value * 100, 1) if metric.endswith("_rate") else round(value, 1)


def _unit(metric: str) -> str:
    if metric.endswith("_rate"):
        return "%"
    if "hours" in metric:
        return "h"
    if "days" in metric:
        return "d"
    return ""


@router.get("/my-reports", response_class=HTMLResponse)
def my_reports_page(
    principal: PortalOwnReportReader,
    request: Request,
    session: SessionDep,
    since: DateFilter = None,
    until: DateFilter = None,
    partner_id: IdFilter = None,
) -> Response:
    """The club's own figures beside its region's median (never another club's figures)."""
    reading = _own(session, principal, partner_id, since, until)
    if reading is None:
        return RedirectResponse("/reports", status_code=303)
    scope, q, partners = reading
    report: MyReport = mine.my_report(session, scope, q)
    figures = []
    for f in report.figures:
        own = _shown(f.metric, f.own)
        median = _shown(f.metric, f.region_median) if report.comparable else None
        unit = _unit(f.metric)
        label = gettext(FIGURE_LABELS[f.metric]) if f.metric in FIGURE_LABELS else f.label
        figures.append(
            {
                "label": label,
                "own": own,
                "median": median,
                "unit": unit,
                "svg": charts.comparison(
                    own,
                    median,
                    title=label,
                    unit=unit,
                    median_label=gettext("%(region)s median", region=report.region_name),
                ),
            }
        )
    filters = {k: v for k, v in _filters(q).items() if k in ("since", "until")}
    filters["partner_id"] = str(q.partner_id)
    return render(
        request,
        "my_reports.html",
        title=gettext("My reports"),
        q=q,
        report=report,
        figures=figures,
        partners=partners,
        filters=filters,
        export_url=lambda fmt: "/my-reports/export?" + urlencode({**filters, "format": fmt}),
    )


@router.get("/my-reports/export")
def my_report_download(
    principal: PortalOwnReportReader,
    session: SessionDep,
    format: Annotated[Format, Query()] = "csv",  # the API's parameter name
    since: DateFilter = None,
    until: DateFilter = None,
    partner_id: IdFilter = None,
) -> Response:
    reading = _own(session, principal, partner_id, since, until)
    if reading is None:
        return RedirectResponse("/reports", status_code=303)
    scope, q, _ = reading
    return _download(mine.my_report(session, scope, q), "mine", format)


PortalCoopReader = Annotated[Principal, Depends(PortalAuthorize(Permission.fund_read))]
CoopPeriodFilter = Annotated[str | None, Blank, Query(max_length=16)]


def _coop(
    session: Session, principal: Principal, period: str | None, region_id: int | None
) -> coop.CoopReport:
    """The same report as GET /api/v1/reports/coop; a bad period is a 422 naming it."""
    try:
        chosen = parse_period(period) if period else quarter_of(datetime.now(UTC).date())
    except TermError as e:
        raise BadFilter(gettext("Please check: period (%(problem)s).", problem=str(e))) from None
    return coop.coop_report(session, principal, chosen, region_id)


@router.get("/reports/coop", response_class=HTMLResponse)
def coop_report_page(
    principal: PortalCoopReader,
    request: Request,
    session: SessionDep,
    period: CoopPeriodFilter = None,
    region_id: IdFilter = None,
) -> HTMLResponse:
    """Co-op money per fund of a period: HQ and region managers their reach, partners their own
    fund; the CSV link downloads exactly this table."""
    report = _coop(session, principal, period, region_id)
    scope = coop.coop_scope(principal)
    _, regions = _choices(session, scope) if not scope.partner_only else (None, [])
    filters = {"period": report.period, **({"region_id": str(region_id)} if region_id else {})}
    return render(
        request,
        "coop_report.html",
        title=gettext("Co-op report"),
        report=report,
        regions=regions,
        whole_brand=scope.whole_brand,
        channels=coop.CHANNELS,
        csv_url="/reports/coop/export?" + urlencode({**filters, "format": "csv"}),
        xlsx_url="/reports/coop/export?" + urlencode({**filters, "format": "xlsx"}),
    )


@router.get("/reports/coop/export")
def coop_report_download(
    principal: PortalCoopReader,
    session: SessionDep,
    format: Annotated[Format, Query()] = "csv",  # the API's parameter name
    period: CoopPeriodFilter = None,
    region_id: IdFilter = None,
) -> Response:
    report = _coop(session, principal, period, region_id)
    headers, rows = coop.table(report)
    if format == "xlsx":
        body = export.xlsx_bytes(headers, rows)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body = export.csv_bytes(headers, rows)
        media = "text/csv; charset=utf-8"
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="report-coop-{report.period}.{format}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
