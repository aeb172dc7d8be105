"""Co-op funds in the portal. Partners see their funds: the balance in buckets (allocated,
held for approved campaigns, spent, paid out, available) and each movement of the ledger.
HQ sees the brand's funds with their balances, and brand admins (fund.manage) allocate money
by form or by sheet (the refused cells listed) and keep the cost rates. The same services as
the API (services/funds)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlmodel import select

from api.deps import SessionDep, SettingsDep
from api.portal.paging import CursorQuery, pager, portal_page
from api.portal.schema_errors import field_errors, label_of, schema_errors
from api.portal.uploads import form_sheet
from api.portal.web import PortalRoute, render
from api.portal.web import _guard as portal_guard
from core.errors import FieldError, Problem
from core.policy import Permission, Principal, Target, allows
from core.said import said, said_of
from domain.money import CostChannel
from i18n.formats import number
from i18n.translate import N_, gettext, translated
from models.fund_schemas import CostRateIn, FundRead
from models.org import Region
from services.funds import allocation, rates, reads
from services.funds.sheet import import_sheet
from services.funds.terms import from_minor

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])
PortalFundReader = Annotated[Principal, portal_guard(Permission.fund_read)]
PortalFundManager = Annotated[Principal, portal_guard(Permission.fund_manage)]
ALLOCATE_FIELDS = ("target", "period", "currency", "amount", "coop_share_percent", "note")
ALLOCATE_LABELS = {
    "target": N_("To"),
    "period": N_("Period"),
    "currency": N_("Currency"),
    "amount": N_("Amount per partner"),
    "coop_share_percent": N_("HQ's share"),
    "eligible_channels": N_("Eligible channels"),
    "note": N_("Note"),
}
# A rate line's columns, as the rate card's help names them.
RATE_FIELDS = ("channel", "format", "min_quantity", "max_quantity", "unit", "currency")
RATE_LABELS = {
    "channel": N_("channel"),
    "format": N_("format"),
    "min_quantity": N_("from"),
    "max_quantity": N_("to"),
    "unit": N_("unit price"),
    "currency": N_("currency"),
}


def _manages(principal: Principal) -> bool:
    return allows(principal, Permission.fund_manage, Target(principal.brand_id))


def _rates_text(session: SessionDep, brand_id: int) -> str:
    """The rate card as editable lines: channel, format, from, to, unit price, currency."""
    lines = []
    for r in rates.list_rates(session, brand_id):
        upto = "" if r.max_quantity is None else str(r.max_quantity)
        unit = from_minor(r.unit_minor, r.currency)
        lines.append(f"{r.channel.value},{r.format},{r.min_quantity},{upto},{unit},{r.currency}")
    return "\n".join(lines)


def _funds_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Principal,
    cursor: str | None,
    *,
    status: int = 200,
    **extra: Any,
) -> HTMLResponse:
    result = reads.list_funds(session, principal, portal_page(settings, cursor))
    manages = _manages(principal)
    regions = (
        session.exec(select(Region).where(Region.brand_id == principal.brand_id)).all()
        if manages
        else []
    )
    context: dict[str, Any] = {
        "form": {"currency": "EUR", "coop_share_percent": "50", "target": "all"},
        "errors": {},
        "report": None,
        "rates_text": _rates_text(session, principal.brand_id),
        "rates_error": None,
        **extra,
    }
    return render(
        request,
        "funds.html",
        status=status,
        title=gettext("Co-op funds"),
        funds=[_row(r) for r in reads.fund_reads(session, list(result.items))],
        pager=pager(request, result, {}),
        manages=manages,
        regions=[(r.id, r.name) for r in regions],
        channels=[c.value for c in CostChannel],
        done=bool(request.query_params.get("done")),
        **context,
    )


def _row(read: FundRead) -> dict[str, Any]:
    money = {
        k: from_minor(getattr(read.balance, f"{k}_minor"), read.currency)
        for k in ("allocated", "reserved", "spent", "paid", "available")
    }
    return {"fund": read, "money": money, "share": f"{number(read.coop_share_bp / 100)} %"}


@router.get("/funds", response_class=HTMLResponse)
def funds_page(
    principal: PortalFundReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    cursor: CursorQuery = None,
) -> HTMLResponse:
    return _funds_page(request, session, settings, principal, cursor)


@router.get("/funds/{fund_id:int}", response_class=HTMLResponse)
def fund_page(
    principal: PortalFundReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    fund_id: int,
    cursor: CursorQuery = None,
) -> HTMLResponse:
    fund = reads.load_fund(session, principal, fund_id)
    result = reads.ledger_page(session, fund, portal_page(settings, cursor))
    entries = [
        {
            "entry": e,
            "amount": from_minor(e.amount_minor, fund.currency),
            "gross": from_minor(e.gross_minor, fund.currency) if e.gross_minor else "",
            "paid": from_minor(e.paid_minor, fund.currency) if e.paid_minor else "",
        }
        for e in result.items
    ]
    return render(
        request,
        "fund.html",
        title=gettext("Co-op fund %(period)s", period=fund.period),
        row=_row(reads.fund_read(session, fund)),
        entries=entries,
        pager=pager(request, result, {}),
    )


async def _posted(request: Request, names: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    posted = await request.form()
    form = {}
    for name in names:
        value = posted.get(name, "")
        form[name] = value[:200].strip() if isinstance(value, str) else ""
    channels = [str(v)[:10] for v in posted.getlist("channels")]
    return form, channels


def _errors(err: Problem) -> dict[str, str]:
    """A refusal by field, each named by its label, in the reader's language."""
    if not err.errors:
        return {"form": translated(err.detail)}
    return field_errors(err, (*ALLOCATE_FIELDS, "eligible_channels"), ALLOCATE_LABELS)


@router.post("/funds/allocate", response_class=HTMLResponse)
async def allocate_page(
    principal: PortalFundManager,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    form, channels = await _posted(request, ALLOCATE_FIELDS)
    target = form["target"]
    try:
        known = [CostChannel(c) for c in channels if c in {x.value for x in CostChannel}]
        if not known:
            raise FieldError("eligible_channels", said("tick at least one channel"))
        terms = allocation.parse_terms(
            form["period"], form["currency"], form["amount"], form["coop_share_percent"], known
        )
        region_id = int(target.removeprefix("region-")) if target.startswith("region-") else None
        allocation.allocate(
            session,
            principal,
            terms,
            region_id=region_id,
            idempotency_key=None,
            note=form["note"],
        )
    except (Problem, ValueError) as err:
        if isinstance(err, Problem) and err.status in (401, 403):
            raise
        session.rollback()
        problem = err if isinstance(err, Problem) else Problem(said_of(err), status=422)
        return _funds_page(
            request,
            session,
            settings,
            principal,
            None,
            status=422,
            form={**form, "channels": channels},
            errors=_errors(problem),
        )
    return RedirectResponse("/funds?done=allocated", status_code=303)


@router.post("/funds/import", response_class=HTMLResponse)
async def import_page(
    principal: PortalFundManager,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    try:
        filename, data = await form_sheet(request, settings)
        result = import_sheet(session, principal, data, filename)
    except Problem as err:
        if err.status in (401, 403):
            raise
        return _funds_page(
            request, session, settings, principal, None, status=err.status, sheet_error=err.detail
        )
    if not result.imported:
        session.rollback()
        return _funds_page(request, session, settings, principal, None, status=422, report=result)
    return RedirectResponse(f"/funds?done=imported-{len(result.funds)}", status_code=303)


@router.post("/funds/rates", response_class=HTMLResponse)
async def rates_page(
    principal: PortalFundManager,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    if not _manages(principal):
        raise Problem("Your roles do not allow fund.manage here", status=403, title="Forbidden")
    posted = await request.form()
    raw = posted.get("rates", "")
    text = raw[:20_000] if isinstance(raw, str) else ""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    numbers = [n for n, _line in lines]  # the card's rate i is on line numbers[i]
    try:
        card = [_rate_line(n, line) for n, line in lines]
        rates.replace(
            session,
            principal.brand_id,
            principal.user_id,
            request.state.request_id,
            card,
        )
    except Problem as err:
        session.rollback()
        return _funds_page(
            request,
            session,
            settings,
            principal,
            None,
            status=422,
            rates_text=text,
            rates_error=_rate_problem(err, numbers),
        )
    return RedirectResponse("/funds?done=rates#rates-h", status_code=303)


def _rate_line(number: int, line: str) -> CostRateIn:
    """`channel,format,from,to,unit,currency` -> a rate; 422 naming the line and column."""
    parts = [p.strip() for p in line.split(",")]
    if len(parts) != 6:
        raise _line_problem(number, said("give channel, format, from, to, unit price, currency"))
    channel, fmt, lo, hi, unit, currency = parts
    try:
        return CostRateIn.model_validate(
            {
                "channel": channel.lower(),
                "format": fmt,
                "min_quantity": lo or "1",
                "max_quantity": hi or None,
                "unit": unit,
                "currency": currency,
            }
        )
    except ValidationError as exc:
        first = next(iter(schema_errors(exc, RATE_FIELDS, RATE_LABELS).values()))
        raise _line_problem(number, first) from None


def _line_problem(number: int, message: str) -> Problem:
    """`message` is what is wrong on the line, in the reader's language (portal only)."""
    return Problem(
        gettext("Line %(line)s: %(problem)s", line=number, problem=translated(message)),
        status=422,
        errors=[{"field": f"rates.{number}", "message": message}],
    )


def _rate_problem(err: Problem, numbers: list[int]) -> str:
    """The rate card's refusal in the reader's language; the service names `rates.<i>.<field>`
    (i counts rates, not lines)."""
    for e in err.errors or []:
        parts = str(e.get("field", "")).split(".")
        if len(parts) == 3 and parts[0] == "rates" and parts[1].isdigit():
            index, column = int(parts[1]), parts[2]
            message = e.get("message")
            reason = translated(message if isinstance(message, str) else str(message))
            what = gettext(
                "%(field)s: %(reason)s", field=label_of(column, RATE_LABELS), reason=reason
            )
            line = numbers[index] if index < len(numbers) else index + 1
            return gettext("Line %(line)s: %(problem)s", line=line, problem=what)
    return translated(err.detail)
