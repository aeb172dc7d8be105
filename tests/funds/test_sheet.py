"""The allocation sheet, as CSV and as XLSX: a good sheet books every row (once, however often
it is uploaded); one bad row refuses the whole sheet, with each refused cell named; a partner
code that is wrong or another brand's reads as unknown; formulas and non-sheets are refused."""

from __future__ import annotations

import io

import httpx
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import Engine
from sqlmodel import Session, select

from models.funds import Fund, FundLedgerEntry
from tests.funds.helpers import ADMIN, CONTOSO, FUNDS, GM_AMS, Login

HEADER = ["Partner", "Period", "Currency", "Amount", "Co-op share", "Channels"]
GOOD = [
    ["amsterdam", "2026-Q4", "EUR", "1,000.00", "50", "email, sms, print"],
    ["berlin", "2026-Q4", "EUR", "750", "50 %", "email"],
    ["munich", "2027", "EUR", "2000.5", "37.5", "print"],
]


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    import csv

    csv.writer(out).writerows([HEADER, *rows])
    return out.getvalue().encode()


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(
    client: TestClient, login: Login, data: bytes, name: str, who: str = ADMIN
) -> httpx.Response:
    r: httpx.Response = client.post(
        f"{FUNDS}/import", files={"file": (name, data, "text/csv")}, headers=login(who)
    )
    return r


def test_csv_and_xlsx_book_every_row_once(client: TestClient, login: Login, demo: Engine) -> None:
    r = upload(client, login, csv_bytes(GOOD), "funds.csv")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["imported"] and body["rows"] == 3
    got = {f["partner_name"]: f for f in body["funds"]}
    assert got["Northwind Fitness Amsterdam"]["balance"]["allocated_minor"] == 100000
    assert got["Northwind Fitness Munich"]["coop_share_bp"] == 3750
    assert got["Northwind Fitness Munich"]["balance"]["allocated_minor"] == 200050
    assert got["Northwind Fitness Berlin"]["eligible_channels"] == ["email"]
    # The same file again books nothing more.
    assert upload(client, login, csv_bytes(GOOD), "funds.csv").status_code == 200
    with Session(demo) as s:
        assert len(s.exec(select(FundLedgerEntry)).all()) == 3
    # XLSX with numbers as numbers: Amsterdam gets a second allocation.
    xlsx = xlsx_bytes([["amsterdam", "2026-Q4", "EUR", 250.25, 50, "email,sms,print"]])
    r = upload(client, login, xlsx, "more.xlsx")
    assert r.status_code == 200, r.text
    assert r.json()["funds"][0]["balance"]["allocated_minor"] == 125025


def test_one_poisoned_row_refuses_all(client: TestClient, login: Login, demo: Engine) -> None:
    bad = [
        *GOOD,
        ["amsterdm", "2026-Q4", "EUR", "100", "50", "email"],
        ["hamburg", "2026-Q4", "EUR", "12.345", "50", "email"],
        ["vienna", "2026-Q9", "EUR", "100", "50", "email"],
        ["zurich", "2026-Q4", "EUR", "100", "50", "fax"],
        ["contoso-nope", "2026-Q4", "EUR", "100", "50", "email"],
    ]
    for data, name in ((csv_bytes(bad), "funds.csv"), (xlsx_bytes(bad), "funds.xlsx")):  # type: ignore[arg-type]
        r = upload(client, login, data, name)
        assert r.status_code == 422, r.text
        body = r.json()
        assert r.headers["content-type"] == "application/problem+json"
        assert body["detail"] == "5 problem(s) in the sheet: nothing was booked"
        assert [(p["row"], p["field"]) for p in body["errors"]] == [
            (5, "partner"),
            (6, "amount"),
            (7, "period"),
            (8, "channels"),
            (9, "partner"),
        ]
        assert body["errors"][0]["message"] == "row 5, column partner: no partner 'amsterdm'"
    with Session(demo) as s:
        assert s.exec(select(Fund)).all() == []


def test_rows_clashing_with_a_fund_refuse_all(
    client: TestClient, login: Login, demo: Engine
) -> None:
    assert upload(client, login, csv_bytes(GOOD[:1]), "a.csv").status_code == 200
    clash = [GOOD[1], ["amsterdam", "2026-Q4", "USD", "5", "50", "email, sms, print"]]
    r = upload(client, login, csv_bytes(clash), "b.csv")
    assert r.status_code == 422
    assert [(p["row"], p["column"]) for p in r.json()["errors"]] == [(3, "currency")]
    with Session(demo) as s:
        assert len(s.exec(select(Fund)).all()) == 1  # Berlin's row was not kept either


def test_another_brand_and_bad_files(client: TestClient, login: Login, demo: Engine) -> None:
    r = upload(client, login, csv_bytes(GOOD[:1]), "funds.csv", who=CONTOSO)
    assert r.status_code == 422
    assert r.json()["errors"][0]["message"] == "row 2, column partner: no partner 'amsterdam'"
    assert upload(client, login, csv_bytes(GOOD), "f.csv", who=GM_AMS).status_code == 403
    formula = csv_bytes([["amsterdam", "2026-Q4", "EUR", "=1+1", "50", "email"]])
    r = upload(client, login, formula, "f.csv")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    r = upload(client, login, b"PK\x03\x04 not a zip", "f.xlsx")
    assert r.status_code == 422
    r = upload(client, login, b"partner,period\namsterdam,2026\n", "f.csv")
    assert r.status_code == 422 and "currency" in r.json()["detail"]
