"""The downloadable campaign sheet template (XLSX): the columns, the brand's allowed values as
dropdowns (data validations over a hidden "Lists" sheet), a "Help" sheet and an example row
that validates as it is."""

from __future__ import annotations

import io
from datetime import timedelta

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.datavalidation import DataValidation
from sqlmodel import Session, col, select

from approvals.builtin import BuiltinPolicy
from core.spreadsheet import safe_cell
from domain.states import CampaignMode, TemplateState
from models.base import utcnow
from models.templates import Template, TemplateVersion
from services.campaign_sheets.reading import column_letter
from services.campaign_sheets.rows import COLUMNS, SLOT_PREFIX, Choices, brand_choices
from services.templates import content_of

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DROPDOWN_ROWS = 2000  # the validations cover this many data rows


def slot_names(session: Session, brand_id: int) -> list[str]:
    """The editable slots of the brand's published versions (defaults HQ may set)."""
    versions = session.exec(
        select(TemplateVersion)
        .join(Template, col(Template.id) == col(TemplateVersion.template_id))
        .where(Template.brand_id == brand_id, TemplateVersion.state == TemplateState.published)
    ).all()
    names = {s.name for v in versions for s in content_of(v).slots if not s.locked}
    return sorted(names)


def campaign_sheet_template(session: Session, brand_id: int) -> bytes:
    choices = brand_choices(session, brand_id)
    columns = [*COLUMNS, *(f"{SLOT_PREFIX}{n}" for n in slot_names(session, brand_id))]
    book = Workbook()
    sheet = book.active
    sheet.title = "Campaigns"
    sheet.append(columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    sheet.append([_guarded(_example(choices).get(c)) for c in columns])
    for index, column in enumerate(columns):
        sheet.column_dimensions[column_letter(index)].width = max(14, len(column) + 2)
    _dropdowns(book, sheet, columns, choices)
    help_sheet = book.create_sheet("Help")
    help_sheet.append(["column", "what it holds"])
    for column, text in COLUMNS.items():
        help_sheet.append([column, text])
    help_sheet.append(
        [f"{SLOT_PREFIX}<name>", "the default value of the template's slot <name> (optional)"]
    )
    help_sheet.append(["", "Values only: a cell holding a formula refuses the sheet."])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _guarded(value: object) -> object:
    """Text as openpyxl may write it: a brand's name starting with "=" would be a formula."""
    return safe_cell(value) if isinstance(value, str) else value


def _example(choices: Choices) -> dict[str, object]:
    start = (utcnow() + timedelta(days=14)).replace(hour=18, minute=0, second=0, microsecond=0)
    example: dict[str, object] = {
        "name": "Example: spring open day",
        "template": choices.template_labels[0] if choices.template_labels else "",
        "personalise_until": start.replace(tzinfo=None),
        "send_by": (start + timedelta(days=7)).replace(tzinfo=None),
        "timezone": "UTC",
        "mode": CampaignMode.opt_in.value,
        "approval_policy": BuiltinPolicy.gm.value,
    }
    if choices.region_names:
        example["regions"] = choices.region_names[0]
    else:
        example["all_partners"] = "yes"
    return example


def _dropdowns(book: Workbook, sheet: object, columns: list[str], choices: Choices) -> None:
    lists = book.create_sheet("Lists")
    lists.sheet_state = "hidden"
    values = {
        "template": (choices.template_labels, True),
        "regions": (choices.region_names, False),  # a list of names may be typed: ";"
        "partners": (choices.partner_slugs, False),
        "all_partners": (["yes"], True),
        "mode": ([m.value for m in CampaignMode], True),
        "approval_policy": ([p.value for p in BuiltinPolicy] + choices.policy_names, True),
    }
    for list_index, (column, (items, strict)) in enumerate(values.items()):
        letter = column_letter(list_index)
        lists.cell(row=1, column=list_index + 1, value=column)
        for row, item in enumerate(items, start=2):
            lists.cell(row=row, column=list_index + 1, value=safe_cell(item))
        if not items:
            continue
        validation = DataValidation(
            type="list",
            formula1=f"=Lists!${letter}$2:${letter}${len(items) + 1}",
            allow_blank=True,
            showErrorMessage=strict,
            errorTitle=column,
            error="Pick a value from the list",
        )
        target = column_letter(columns.index(column))
        validation.add(f"{target}2:{target}{DROPDOWN_ROWS + 1}")
        sheet.add_data_validation(validation)  # type: ignore[attr-defined]
