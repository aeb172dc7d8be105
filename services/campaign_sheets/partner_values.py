"""The partners' half of the exchange: a partner editor downloads a sheet of the partner
campaigns it may edit now (one row each, a `slot:<name>` column per editable slot) and uploads
it back to save the values of several campaigns at once.

Upload is all-or-nothing at validation: every row is checked with the validation the
partner-campaign content API uses (services.campaign_actions.full_validation: every content
rule, the asset library's included) and any problem refuses the whole sheet (422, each problem
by sheet, row and column), nothing saved. Only then is each row saved through its workflow's
`save_content` Update, as PUT /partner-campaigns/{id}/content does. A row whose workflow refuses
at that moment (it moved on since the check, e.g. a GM's decision) is reported as refused in
the answer; the rows before it stay saved (values are drafts: saving is not a send).
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from sqlmodel import Session, col, select
from temporalio.client import Client

from content.spec import SlotKind
from core.db import release_connection
from core.errors import Problem
from core.policy import Permission, Principal, actor_of
from core.spreadsheet import safe_cell
from domain.states import PartnerCampaignState
from models.campaigns import Campaign, PartnerCampaign
from models.org import Partner
from models.templates import TemplateVersion
from models.workflow_io import PartnerAction
from services.access import scope_filter
from services.campaign_actions import act, full_validation
from services.campaign_sheets.reading import SheetFileError, Table, read_table
from services.campaign_sheets.rows import SLOT_PREFIX
from services.campaign_sheets.store import refuse_file
from services.campaigns import aware, load_partner_campaign
from services.templates import content_of
from workflows.partner_campaign import PartnerCampaignWorkflow

EDITABLE = (
    PartnerCampaignState.invited,
    PartnerCampaignState.drafting,
    PartnerCampaignState.changes_requested,
)
ID_COLUMN = "partner_campaign_id"
INFO_COLUMNS = ("partner", "campaign", "send_by")  # shown for orientation, not read back
GREY = PatternFill("solid", fgColor="DDDDDD")


def _editable_rows(session: Session, principal: Principal, limit: int) -> list[PartnerCampaign]:
    return list(
        session.exec(
            select(PartnerCampaign)
            .where(
                scope_filter(
                    principal,
                    PartnerCampaign.brand_id,
                    PartnerCampaign.region_id,
                    PartnerCampaign.partner_id,
                    Permission.partner_campaign_edit,
                ),
                col(PartnerCampaign.state).in_([s.value for s in EDITABLE]),
            )
            .order_by(col(PartnerCampaign.id))
            .limit(limit)
        ).all()
    )


def _editable_slots(session: Session, campaign: Campaign) -> dict[str, SlotKind]:
    version = session.get(TemplateVersion, campaign.template_version_id)
    if version is None:
        return {}
    return {s.name: s.kind for s in content_of(version).slots if not s.locked}


def partner_value_sheet(session: Session, principal: Principal, max_rows: int) -> bytes:
    rows = _editable_rows(session, principal, max_rows)
    campaigns = {c.id: c for c in _campaigns(session, rows)}
    partners = {
        p.id: p
        for p in session.exec(
            select(Partner).where(col(Partner.id).in_({r.partner_id for r in rows}))
        ).all()
    }
    slots = {c.id: _editable_slots(session, c) for c in campaigns.values()}
    names = sorted({n for by_name in slots.values() for n in by_name})
    book = Workbook()
    sheet = book.active
    sheet.title = "Values"
    sheet.append([ID_COLUMN, *INFO_COLUMNS, *(f"{SLOT_PREFIX}{n}" for n in names)])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "E2"
    for number, row in enumerate(rows, start=2):
        campaign = campaigns[row.campaign_id]
        partner = partners.get(row.partner_id)
        own = slots.get(campaign.id, {})
        values = {**campaign.defaults, **row.values}
        sheet.append(
            [
                row.id,
                partner.slug if partner else "",
                safe_cell(campaign.name),
                aware(campaign.send_by).strftime("%Y-%m-%d %H:%M UTC"),
                *(_shown(values.get(n)) if n in own else None for n in names),
            ]
        )
        for index, name in enumerate(names, start=5):
            if name not in own:
                sheet.cell(row=number, column=index).fill = GREY
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _shown(value: Any) -> Any:
    """A slot value as a cell: text guarded (core/spreadsheet.py; openpyxl writes "=..." as a
    formula, and the upload would refuse the sheet), numbers as they are."""
    if isinstance(value, str):
        return safe_cell(value)
    return value if isinstance(value, int | float) else None


def _campaigns(session: Session, rows: list[PartnerCampaign]) -> list[Campaign]:
    ids = {r.campaign_id for r in rows}
    return list(session.exec(select(Campaign).where(col(Campaign.id).in_(ids))).all())


@dataclass
class Planned:
    number: int
    row: PartnerCampaign
    values: dict[str, Any]


@dataclass
class ValueSheetReport:
    rows: list[dict[str, Any]] = field(default_factory=list)


def _cell_value(kind: SlotKind, text: str) -> Any:
    """The JSON value the content API would receive for this slot kind."""
    if kind == SlotKind.number:
        try:
            number = float(text)
        except ValueError:
            return text  # the validation names it
        return int(number) if number.is_integer() else number
    if kind == SlotKind.date and len(text) >= 10 and text[4] == "-":
        return text[:10]  # an Excel date cell reads as a date-time at midnight
    return text


def check_value_sheet(session: Session, principal: Principal, table: Table) -> list[Planned]:
    """Every row checked; a Problem (422) listing every problem when any row has one."""
    problems: list[dict[str, Any]] = []

    def problem(number: int, column: str, message: str) -> None:
        problems.append({"sheet": table.sheet, "row": number, "column": column, "message": message})

    if ID_COLUMN not in table.columns:
        problem(1, ID_COLUMN, "required column missing")
    for column in table.columns:
        if column not in (ID_COLUMN, *INFO_COLUMNS) and not column.startswith(SLOT_PREFIX):
            problem(1, column, "unknown column: slot values go in slot:<name> columns")
    planned: list[Planned] = []
    seen: set[int] = set()
    for raw in [] if problems else table.rows:
        number, cells = int(raw["row"]), dict(raw["cells"])
        text = cells.get(ID_COLUMN, "")
        if not text.isdigit():
            problem(number, ID_COLUMN, f"{text!r} is not a partner campaign id")
            continue
        pc_id = int(text)
        if pc_id in seen:
            problem(number, ID_COLUMN, f"partner campaign {pc_id} is in the sheet twice")
            continue
        seen.add(pc_id)
        try:
            row = load_partner_campaign(session, principal, pc_id, Permission.partner_campaign_edit)
        except Problem:
            problem(number, ID_COLUMN, f"no partner campaign {pc_id} that you may edit")
            continue
        if row.state not in EDITABLE:
            problem(number, ID_COLUMN, f"partner campaign {pc_id} is {row.state}: values are final")
            continue
        campaign = session.get(Campaign, row.campaign_id)
        own = _editable_slots(session, campaign) if campaign else {}
        values = dict(row.values)
        for column, value in cells.items():
            if not column.startswith(SLOT_PREFIX):
                continue
            name = column[len(SLOT_PREFIX) :]
            if name not in own:
                problem(
                    number, column, "this campaign's template has no editable slot of this name"
                )
                continue
            values[name] = _cell_value(own[name], value)
        for error in full_validation(session, row, values):
            problem(number, f"{SLOT_PREFIX}{error.field}", error.message)
        planned.append(Planned(number, row, values))
    if problems:
        raise Problem(
            f"{len(problems)} problem(s) in the sheet: nothing was saved",
            status=422,
            title="Sheet refused",
            errors=[{"field": p["column"], **p} for p in problems],  # with sheet and row
        )
    return planned


async def save_value_sheet(
    session: Session,
    connect: Callable[[], Awaitable[Client]],
    principal: Principal,
    filename: str,
    data: bytes,
    max_rows: int,
) -> ValueSheetReport:
    try:
        table = read_table(data, filename, max_rows)
    except SheetFileError as err:
        raise refuse_file(err) from err
    planned = check_value_sheet(session, principal, table)
    release_connection(session)
    client = await connect()
    report = ValueSheetReport()
    for item in planned:
        action = PartnerAction(actor=actor_of(principal), values=item.values)
        try:
            status = await act(client, item.row, PartnerCampaignWorkflow.save_content, action)
            outcome = {"saved": True, "state": str(status.state), "message": ""}
        except Problem as err:
            outcome = {"saved": False, "state": str(item.row.state), "message": err.detail}
        report.rows.append({"row": item.number, "partner_campaign_id": item.row.id or 0, **outcome})
    return report
