"""The allocation sheet: one row per partner and period (XLSX or CSV, read by the same reader
as campaign sheets: zip-bomb and formula checks included).

Columns: partner (the partner's code, its slug), period, currency, amount, co-op share (a
percent) and channels (comma separated: email, sms, print). Every row is checked before
anything is written; one refused row refuses the whole sheet, and the report names each
refused cell ("row 4, column partner: no partner 'amsterdm'"). A sheet that passes is booked
in one transaction, each row keyed by the file's digest and its row, so uploading the same
file twice books it once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlmodel import Session, select

from core.errors import FieldError
from core.policy import Permission, Principal, Target, allows
from core.said import Listing, said, said_of
from domain.money import CostChannel
from models.fund_schemas import SheetRowProblem
from models.funds import Fund
from models.org import Partner
from services import audit
from services.campaign_sheets.reading import SheetFileError, read_table
from services.funds.allocation import Terms, allocate_one, parse_terms

MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024
COLUMNS: dict[str, tuple[str, ...]] = {
    "partner": ("partner", "partner code", "partner_code", "code"),
    "period": ("period",),
    "currency": ("currency",),
    "amount": ("amount",),
    "co-op share": ("co-op share", "coop share", "coop_share", "share", "co-op share %"),
    "channels": ("channels", "eligible channels", "eligible_channels"),
}
FIELD_TO_COLUMN = {
    "period": "period",
    "currency": "currency",
    "amount": "amount",
    "coop_share_percent": "co-op share",
    "eligible_channels": "channels",
}


@dataclass
class SheetResult:
    rows: int = 0
    problems: list[SheetRowProblem] = field(default_factory=list)
    funds: list[Fund] = field(default_factory=list)

    @property
    def imported(self) -> bool:
        return not self.problems and bool(self.funds)


def _columns(found: list[str]) -> dict[str, str]:
    """Our column name -> the sheet's header; FieldError naming the missing ones."""
    out: dict[str, str] = {}
    for name, spellings in COLUMNS.items():
        hit = next((c for c in found if c in spellings), None)
        if hit is not None:
            out[name] = hit
    missing = [n for n in COLUMNS if n not in out]
    if missing:
        raise FieldError("file", f"the first row must name the columns: {', '.join(missing)}")
    return out


def _channels(text: str) -> list[CostChannel]:
    names = [p.strip().lower() for p in text.replace(";", ",").split(",") if p.strip()]
    known = {c.value for c in CostChannel}
    bad = [n for n in names if n not in known]
    if bad or not names:
        given = Listing(bad) if bad else said("none")
        raise ValueError(said("%(given)s: give channels among email, sms, print", given=given))
    return [CostChannel(n) for n in names]


def import_sheet(session: Session, principal: Principal, data: bytes, filename: str) -> SheetResult:
    """Check every row, then book all of them or none."""
    if len(data) > MAX_BYTES:
        raise FieldError("file", f"is larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        table = read_table(data, filename, MAX_ROWS)
    except SheetFileError as exc:
        raise FieldError("file", str(exc)) from None
    cols = _columns(table.columns)
    partners = {
        p.slug: p
        for p in session.exec(select(Partner).where(Partner.brand_id == principal.brand_id))
    }
    result = SheetResult(rows=len(table.rows))
    checked: list[tuple[int, Partner, Terms]] = []
    seen: dict[tuple[int, str], int] = {}

    def refuse(row: int, column: str, message: str) -> None:
        result.problems.append(SheetRowProblem(row=row, column=column, message=message))

    for item in table.rows:
        number: int = item["row"]
        cells: dict[str, str] = item["cells"]
        cell = {name: cells.get(header, "") for name, header in cols.items()}
        code = cell["partner"].strip().lower()
        partner = partners.get(code)
        if partner is None or not allows(
            principal,
            Permission.fund_manage,
            Target(principal.brand_id, partner.region_id, partner.id),
        ):
            # A partner outside the caller's reach reads as unknown, as the API's 404 does.
            refuse(number, "partner", said("no partner %(code)s", code=repr(cell["partner"])))
            continue
        try:
            channels = _channels(cell["channels"])
        except ValueError as exc:
            refuse(number, "channels", said_of(exc))
            continue
        try:
            terms = parse_terms(
                cell["period"], cell["currency"], cell["amount"], cell["co-op share"], channels
            )
        except FieldError as exc:
            refuse(number, *_cell_of(exc))
            continue
        assert partner.id is not None
        twin = seen.get((partner.id, terms.period.name))
        if twin is not None:
            refuse(number, "partner", f"{code} {terms.period.name} is also in row {twin}")
            continue
        seen[(partner.id, terms.period.name)] = number
        checked.append((number, partner, terms))
    if result.problems:
        return result
    digest = hashlib.sha256(data).hexdigest()[:24]
    audit.begin_write(session)
    savepoint = session.begin_nested()
    for number, partner, terms in checked:
        try:
            fund, _created, _booked = allocate_one(
                session,
                partner,
                terms,
                user_id=principal.user_id,
                key=f"sheet-{digest}-{number}",
                note=f"allocation sheet {filename[:100]}, row {number}",
            )
        except FieldError as exc:  # the row's terms clash with the partner's fund
            refuse(number, *_cell_of(exc))
            continue
        result.funds.append(fund)
    if result.problems:
        savepoint.rollback()
        result.funds = []
    else:
        savepoint.commit()
    return result


def _cell_of(exc: FieldError) -> tuple[str, str]:
    """(sheet column, message) of a refusal naming an API field."""
    errors = exc.errors or [{"field": "amount", "message": str(exc)}]
    name = str(errors[0]["field"])
    message = errors[0]["message"]  # a core.said.Said stays one (str() drops it to English)
    return FIELD_TO_COLUMN.get(name, name), message if isinstance(message, str) else str(message)
