"""Campaign sheet checking: a 2,000-row plan read and validated, against reading it alone.

    python -m bench.campaign_sheets [--rows 2000] [--database-url URL]

Writes an XLSX plan of N rows (the demo's Open day template, two regions each), then times
reading it (services.campaign_sheets.reading: zip checks, formula scan, text cells) and
checking every row (rows.check_sheet: the campaign API's schema, database and launch checks),
next to the baseline of a bare openpyxl read-only pass over the same file. The validation
activity runs the read's output through the check; the upload runs the read.
"""

from __future__ import annotations

import argparse
import io
import time
from datetime import UTC, datetime, timedelta

from openpyxl import Workbook, load_workbook
from sqlmodel import Session, select

from bench.audit_append import fresh_engine
from models.org import User
from models.templates import Template, TemplateVersion
from scripts.demo.organisation import seed_demo
from services.campaign_sheets.reading import read_table
from services.campaign_sheets.rows import check_sheet, version_label


def plan(label: str, rows: int) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "Campaigns"
    sheet.append(["name", "template", "regions", "personalise_until", "send_by", "slot:headline"])
    start = (datetime.now(UTC) + timedelta(days=30)).replace(tzinfo=None, microsecond=0)
    for n in range(rows):
        sheet.append(
            [f"Plan {n}", label, "North; South", start, start + timedelta(days=7), f"Day {n}"]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    engine = fresh_engine(args.database_url)
    with Session(engine) as s:
        seed_demo(s)
        s.commit()
        template = s.exec(select(Template).where(Template.name == "Open day")).first()
        assert template is not None
        version = s.exec(
            select(TemplateVersion).where(TemplateVersion.template_id == template.id)
        ).first()
        assert version is not None
        label = version_label(template.name, version.number, version.id or 0)
        brand_id = s.exec(
            select(User.brand_id).where(User.email == "marketing@northwind.example")
        ).one()
    data = plan(label, args.rows)

    began = time.perf_counter()
    book = load_workbook(io.BytesIO(data), read_only=True)
    cells = sum(1 for row in book.active.iter_rows(values_only=True) for _ in row)
    book.close()
    baseline = time.perf_counter() - began

    began = time.perf_counter()
    table = read_table(data, "plan.xlsx", args.rows)
    read = time.perf_counter() - began
    began = time.perf_counter()
    with Session(engine) as s:
        checked = check_sheet(s, brand_id, table.sheet, table.columns, table.rows)
    check = time.perf_counter() - began
    assert not checked.problems, checked.problems[:3]
    print(f"{args.rows} rows, {len(data)} bytes, {cells} cells, {engine.dialect.name}")
    print(f"baseline openpyxl read-only pass: {baseline * 1000:.0f} ms")
    print(f"read (zip checks, formulas, text): {read * 1000:.0f} ms ({read / baseline:.2f}x)")
    print(f"check every row: {check * 1000:.0f} ms ({args.rows / check:.0f} rows/s)")


if __name__ == "__main__":
    main()
