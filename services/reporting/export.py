"""Every report as a table, and a table as CSV or XLSX.

Every string cell goes through core.spreadsheet.safe_cell (a campaign called "=HYPERLINK(...)"
arrives as text, never as a formula), in both formats. Numbers stay numbers. The XLSX is the
minimal SpreadsheetML package (one sheet, inline strings, values only) written with the
standard library: the file opens in Excel, LibreOffice and Numbers, and no formula is ever
written.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from xml.sax.saxutils import escape

from core.spreadsheet import safe_cell
from services.reporting.shapes import (
    DELIVERY_COLUMNS,
    CycleStats,
    DeliveryReport,
    FunnelReport,
    MyReport,
    QualityReport,
    TimeToMarketReport,
    TrendReport,
)
from services.reporting.trend import COLUMNS as TREND_COLUMNS

Cell = str | int | float | None
Table = tuple[list[str], list[list[Cell]]]
Report = FunnelReport | TimeToMarketReport | QualityReport | DeliveryReport | TrendReport | MyReport

FUNNEL_STEPS = (
    "invited",
    "drafting",
    "submitted",
    "approved",
    "sent",
    "declined",
    "expired",
    "rejected",
)


def _hours(seconds: float | None) -> float | None:
    return round(seconds / 3600, 2) if seconds is not None else None


def _cycle(measure: str, s: CycleStats) -> list[Cell]:
    return [
        measure,
        s.stage or "",
        s.label,
        s.count,
        _hours(s.median_seconds),
        _hours(s.p90_seconds),
    ]


def table_of(report: Report, part: str | None = None) -> Table:
    """The report's main table; `part` names a second one (funnel: "stuck"; time to market:
    "overdue")."""
    if isinstance(report, FunnelReport):
        if part == "stuck":
            return (
                ["Campaign", "Partner", "Region", "State", "Since (UTC)"],
                [
                    [i.campaign_name, i.partner_name, i.region_name, i.state, _iso(i.since)]
                    for i in report.stuck
                ],
            )
        return (
            ["Group", *(s.capitalize() for s in FUNNEL_STEPS)],
            [
                [r.label, *(getattr(r, s) for s in FUNNEL_STEPS)]
                for r in [*report.rows, report.total]
            ],
        )
    if isinstance(report, TimeToMarketReport):
        if part == "overdue":
            return (
                ["Campaign", "Partner", "Region", "Stage", "Held by", "Due (UTC)", "Hours over"],
                [
                    [
                        o.campaign_name,
                        o.partner_name,
                        o.region_name,
                        o.stage_label,
                        ", ".join(o.holders),
                        _iso(o.due_at),
                        round(o.overdue_seconds / 3600, 1),
                    ]
                    for o in report.overdue
                ],
            )
        rows = [
            *(_cycle("Invitation to submission", s) for s in report.to_submission),
            *(_cycle("Submission to approval", s) for s in report.to_approval),
            *(_cycle("Approval stage", s) for s in report.stages),
        ]
        return (["Measure", "Stage", "Region", "Count", "Median hours", "P90 hours"], rows)
    if isinstance(report, QualityReport):
        rows_q: list[list[Cell]] = [[c.label, c.rule, c.count] for c in report.refusals]
        rows_q.append(["All refusals", "", report.refusals_total])
        rows_q.append(["Submissions", "", report.submissions])
        rows_q.append(["Changes requested", "", report.changes_requested])
        rows_q.append(["Rounds per submission", "", report.rounds_per_submission])
        return (["Rule", "Code", "Count"], rows_q)
    if isinstance(report, DeliveryReport):
        return (
            ["Group", "Channel", *DELIVERY_COLUMNS],
            [
                [r.label, r.channel, *(r.figures.get(c, 0) for c in DELIVERY_COLUMNS)]
                for r in [*report.rows, *report.total]
            ],
        )
    if isinstance(report, TrendReport):
        return (
            [report.period.capitalize(), *TREND_COLUMNS],
            [
                [p.start.isoformat(), *(p.figures.get(c, 0) for c in TREND_COLUMNS)]
                for p in report.points
            ],
        )
    return (
        ["Figure", report.partner_name, f"{report.region_name} median"],
        [[c.label, c.own, c.region_median] for c in report.figures],
    )


def _iso(value: datetime | date) -> str:
    return value.isoformat()


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, str):
        return safe_cell(cell)
    return str(cell)


def csv_bytes(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_text(h) for h in headers])
    for row in rows:
        writer.writerow([_text(c) for c in row])
    return out.getvalue().encode("utf-8")


def _column(n: int) -> str:
    name = ""
    n += 1
    while n:
        n, rem = divmod(n - 1, 26)
        name = chr(65 + rem) + name
    return name


def _xml_cell(ref: str, cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, bool) or not isinstance(cell, int | float):
        text = escape(safe_cell(str(cell)))
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
    return f'<c r="{ref}"><v>{cell}</v></c>'


_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
_OOXML = "http://schemas.openxmlformats.org"
_PKG = f"{_OOXML}/package/2006"
_DOC_RELS = f"{_OOXML}/officeDocument/2006/relationships"
_SML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_CONTENT_TYPES = (
    f'{_HEAD}<Types xmlns="{_PKG}/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_SML}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_SML}.worksheet+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    f'{_HEAD}<Relationships xmlns="{_PKG}/relationships">'
    f'<Relationship Id="rId1" Type="{_DOC_RELS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    f'{_HEAD}<workbook xmlns="{_OOXML}/spreadsheetml/2006/main" xmlns:r="{_DOC_RELS}">'
    '<sheets><sheet name="Report" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    f'{_HEAD}<Relationships xmlns="{_PKG}/relationships">'
    f'<Relationship Id="rId1" Type="{_DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)


def xlsx_bytes(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    lines = []
    table: list[list[Cell]] = [list(headers), *(list(x) for x in rows)]
    for r, row in enumerate(table, start=1):
        cells = "".join(_xml_cell(f"{_column(c)}{r}", cell) for c, cell in enumerate(row))
        lines.append(f'<row r="{r}">{cells}</row>')
    sheet = (
        f'{_HEAD}<worksheet xmlns="{_OOXML}/spreadsheetml/2006/main">'
        f"<sheetData>{''.join(lines)}</sheetData></worksheet>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _ROOT_RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return out.getvalue()
