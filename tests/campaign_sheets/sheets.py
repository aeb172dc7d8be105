"""Building campaign sheets for the tests (XLSX through openpyxl, CSV as text)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from openpyxl import Workbook
from sqlalchemy import Engine
from sqlmodel import Session, select

from models.templates import Template, TemplateVersion
from services.campaign_sheets.rows import version_label

COLUMNS = ["name", "template", "partners", "personalise_until", "send_by", "mode", "slot:headline"]


def open_day_label(engine: Engine) -> str:
    with Session(engine) as s:
        template = s.exec(select(Template).where(Template.name == "Open day")).first()
        assert template is not None
        version = s.exec(
            select(TemplateVersion).where(
                TemplateVersion.template_id == template.id, TemplateVersion.state == "published"
            )
        ).one()
        return version_label(template.name, version.number, version.id or 0)


def plan_rows(label: str, count: int, tag: str = "") -> list[list[Any]]:
    start = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0, tzinfo=None)
    return [
        [
            f"Plan {tag}{n}",
            label,
            "amsterdam",
            start,
            start + timedelta(days=10),
            "opt_in",
            f"Open day {n}",
        ]
        for n in range(1, count + 1)
    ]


def xlsx(rows: list[list[Any]], columns: list[str] = COLUMNS, title: str = "Campaigns") -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    sheet.append(columns)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
