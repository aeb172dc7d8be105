"""Reading an uploaded sheet (XLSX or CSV) into rows of text cells, refusing unsafe files.

An XLSX file is a zip: its members' count and declared uncompressed sizes are checked BEFORE
openpyxl opens it (a zip bomb is refused without inflating a byte; zipfile never inflates a
member past its declared size, so a forged size only truncates). Formulas are refused cell by
cell, read without `data_only`: a formula cell without a cached value would read as None,
i.e. as an empty cell that silently drops what the author meant. A CSV cell starting with
"=" is refused the same way (a spreadsheet would run it). Every cell becomes text, so the
XLSX and CSV paths share one validation (services/campaign_sheets/rows.py).
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from core.spreadsheet import unguard

MAX_MEMBERS = 500
MAX_UNCOMPRESSED = 50 * 1024 * 1024  # all members together, as declared in the zip
XLSX_MAGIC = b"PK\x03\x04"
PREFERRED_SHEETS = ("campaigns", "values")


class SheetFileError(ValueError):
    """The file as a whole is refused (nothing stored, nothing created); `problems` names the
    cells when the refusal is about cells (formulas)."""

    def __init__(self, message: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass
class Table:
    sheet: str
    columns: list[str]
    # {"row": spreadsheet row number (the header is row 1), "cells": {column: text}}
    rows: list[dict[str, Any]] = field(default_factory=list)


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: how a spreadsheet names column `index`."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out


def cell_text(value: Any) -> str:
    """A cell as text: dates ISO 8601 (a datetime without zone stays without: the row says
    which zone), whole floats without ".0" (Excel stores 12 as 12.0), and the formula guard
    our own sheets put in front of text (core/spreadsheet.py) taken off again."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return unguard(str(value).strip())


def read_table(data: bytes, filename: str, max_rows: int) -> Table:
    if not data.strip():
        raise SheetFileError("the file is empty")
    if data.startswith(XLSX_MAGIC):
        return _read_xlsx(data, max_rows)
    if filename.lower().endswith((".xlsx", ".xlsm", ".xls")):
        raise SheetFileError("is not an XLSX file (an .xlsx file is a zip archive)")
    return _read_csv(data, max_rows)


def check_zip(data: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as err:
        raise SheetFileError("is not a readable XLSX file (a broken zip archive)") from err
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise SheetFileError(f"the XLSX archive holds more than {MAX_MEMBERS} parts")
        declared = sum(m.file_size for m in members)
        if declared > MAX_UNCOMPRESSED:
            raise SheetFileError(
                f"the XLSX archive unpacks to {declared} bytes, more than {MAX_UNCOMPRESSED}"
            )
        names = {m.filename for m in members}
        if "xl/workbook.xml" not in names or "[Content_Types].xml" not in names:
            raise SheetFileError("is a zip archive but not an XLSX workbook")


def _read_xlsx(data: bytes, max_rows: int) -> Table:
    check_zip(data)
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as err:  # openpyxl raises many kinds for a damaged workbook
        raise SheetFileError(f"is not a readable XLSX workbook ({type(err).__name__})") from err
    try:
        sheet = _data_sheet(book)
        return _table_from_rows(sheet.title, _xlsx_rows(sheet, max_rows), max_rows)
    finally:
        book.close()


def _data_sheet(book: Any) -> Any:
    by_name = {ws.title.strip().lower(): ws for ws in book.worksheets}
    for name in PREFERRED_SHEETS:
        if name in by_name:
            return by_name[name]
    if not book.worksheets:
        raise SheetFileError("the workbook has no worksheet")
    return book.worksheets[0]


def _xlsx_rows(sheet: Any, max_rows: int) -> list[tuple[int, list[Any]]]:
    """(row number, values) of the non-blank rows; formula cells refused, all named."""
    formulas: list[dict[str, Any]] = []
    rows: list[tuple[int, list[Any]]] = []
    header: list[str] = []
    for number, cells in enumerate(sheet.iter_rows(), start=1):
        values = []
        for index, cell in enumerate(cells):
            value = getattr(cell, "value", None)
            if getattr(cell, "data_type", None) == "f":
                column = header[index] if index < len(header) else column_letter(index)
                formulas.append(_formula(sheet.title, number, column, index))
                value = None
            values.append(value)
        if not any(cell_text(v) for v in values):
            continue
        if not rows:
            header = [cell_text(v).lower() for v in values]
        rows.append((number, values))
        if len(rows) > max_rows + 1:
            break
    if formulas:
        raise SheetFileError(
            f"{len(formulas)} cell(s) hold a formula: a sheet must hold values only",
            formulas,
        )
    return rows


def _formula(sheet: str, row: int, column: str, index: int) -> dict[str, Any]:
    return {
        "sheet": sheet,
        "row": row,
        "column": column,
        "message": f"cell {column_letter(index)}{row} holds a formula: type the value instead",
    }


def _read_csv(data: bytes, max_rows: int) -> Table:
    if b"\x00" in data:
        raise SheetFileError("is not a spreadsheet: neither an XLSX workbook nor CSV text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SheetFileError(
            "is not a spreadsheet: neither an XLSX workbook nor UTF-8 CSV text"
        ) from err
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows: list[tuple[int, list[Any]]] = []
    formulas: list[dict[str, Any]] = []
    header: list[str] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for values in reader:
            number = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if not rows:
                header = [v.strip().lower() for v in values]
            else:
                for index, value in enumerate(values):
                    if value.strip().startswith("="):
                        column = header[index] if index < len(header) else column_letter(index)
                        formulas.append(_formula("csv", number, column, index))
            rows.append((number, list(values)))
            if len(rows) > max_rows + 1:
                break
    except csv.Error as err:
        raise SheetFileError(f"is not readable CSV ({err})") from err
    if formulas:
        raise SheetFileError(
            f"{len(formulas)} cell(s) hold a formula: a sheet must hold values only", formulas
        )
    return _table_from_rows("csv", rows, max_rows)


def _table_from_rows(sheet: str, rows: list[tuple[int, list[Any]]], max_rows: int) -> Table:
    if not rows:
        raise SheetFileError("the sheet is empty: the first row names the columns")
    _, head = rows[0]
    columns = [cell_text(v).lower() for v in head]
    named = [c for c in columns if c]
    if not named:
        raise SheetFileError("the first row must name the columns")
    duplicates = sorted({c for c in named if named.count(c) > 1})
    if duplicates:
        raise SheetFileError(f"columns named twice: {', '.join(duplicates)}")
    if len(rows) == 1:
        raise SheetFileError("the sheet has no data rows under its header")
    if len(rows) - 1 > max_rows:
        raise SheetFileError(f"the sheet has more than {max_rows} data rows (the limit)")
    table = Table(sheet=sheet, columns=named)
    for number, values in rows[1:]:
        cells: dict[str, str] = {}
        for index, value in enumerate(values):
            text = cell_text(value)
            if not text:
                continue
            name = columns[index] if index < len(columns) else ""
            if not name:
                raise SheetFileError(
                    f"row {number}: cell {column_letter(index)}{number} has a value but its "
                    "column has no name in the first row"
                )
            cells[name] = text
        table.rows.append({"row": number, "cells": cells})
    return table
