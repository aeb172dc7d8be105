"""Files refused as a whole, before anything is stored or any workflow starts (these tests
run without a Temporal server: a refusal never reaches it), and the downloadable template."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from core.settings import Settings
from models.campaign_sheets import CampaignSheet
from models.org import Region, User
from services.campaign_sheets.reading import read_table
from services.campaign_sheets.rows import check_sheet
from tests.campaign_sheets.sheets import COLUMNS, open_day_label, plan_rows, xlsx

MARKETING = "marketing@northwind.example"
Login = Callable[[str], dict[str, str]]


def zip_bomb() -> bytes:
    """A small zip that claims to be a workbook and unpacks to 60 MB of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (60 * 1024 * 1024))
    return out.getvalue()


def with_formula() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "Campaigns"
    sheet.append(["name", "template", "partners"])
    sheet.append(["Plan", "=1+2", "amsterdam"])  # no cached value: data_only would read None
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_rows(count: int) -> bytes:
    lines = ["name,template,partners,personalise_until,send_by"]
    lines += [f"P{n},1,amsterdam,2030-01-01,2030-01-10" for n in range(count)]
    return "\n".join(lines).encode()


CASES = {
    "not a spreadsheet": ("logo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "not a spreadsheet"),
    "zip bomb": ("plan.xlsx", zip_bomb(), "unpacks to"),
    "broken xlsx": ("plan.xlsx", b"PK\x03\x04 truncated", "broken zip"),
    "empty file": ("plan.csv", b"", "empty"),
    "header only": ("plan.csv", b"name,template\n", "no data rows"),
    "too many rows": ("plan.csv", csv_rows(2001), "more than 2000"),
    "formula": ("plan.xlsx", with_formula(), "formula"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_refused_file_stores_nothing(
    client: TestClient, login: Login, demo: Engine, case: str
) -> None:
    name, data, message = CASES[case]
    resp = client.post(
        "/api/v1/campaign-sheets", files={"file": (name, data)}, headers=login(MARKETING)
    )
    assert resp.status_code == 422, resp.text
    problem = resp.json()
    assert problem["errors"][0]["field"] == "file"
    assert message in problem["detail"]
    if case == "formula":  # the cell is named, by row and column header
        cell = problem["errors"][1]
        assert (cell["row"], cell["column"]) == (2, "template")
        assert "B2" in cell["message"]
    with Session(demo) as s:
        assert s.exec(select(func.count()).select_from(CampaignSheet)).one() == 0


def test_a_fifty_megabyte_sheet_is_413(client: TestClient, login: Login) -> None:
    big = b"name\n" + b"x" * (50 * 1024 * 1024)
    resp = client.post(
        "/api/v1/campaign-sheets", files={"file": ("big.csv", big)}, headers=login(MARKETING)
    )
    assert resp.status_code == 413


def test_wrong_types_and_names_are_reported_per_cell(demo: Engine) -> None:
    rows = plan_rows(open_day_label(demo), 2)
    rows[0][3] = "next tuesday"  # not a date
    rows[1][5] = "sometimes"  # not a mode
    table = read_table(xlsx(rows, [*COLUMNS, "colour"]), "plan.xlsx", 2000)
    with Session(demo) as s:
        brand_id = s.exec(select(User.brand_id).where(User.email == MARKETING)).one()
        header = check_sheet(s, brand_id, table.sheet, table.columns, table.rows)
        assert [(p["row"], p["column"]) for p in header.problems] == [(1, "colour")]
        table.columns.remove("colour")
        checked = check_sheet(s, brand_id, table.sheet, table.columns, table.rows)
    assert sorted((p["row"], p["column"]) for p in checked.problems) == [
        (2, "personalise_until"),
        (3, "mode"),
    ]


def test_the_template_lists_the_brand_values_and_its_example_validates(
    client: TestClient, login: Login, demo: Engine, settings: Settings
) -> None:
    resp = client.get("/api/v1/campaign-sheets/template", headers=login(MARKETING))
    assert resp.status_code == 200
    book = load_workbook(io.BytesIO(resp.content))
    sheet = book["Campaigns"]
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["name", "template"] and "slot:headline" in header
    lists = {
        book["Lists"].cell(1, c).value: [
            r[0].value
            for r in book["Lists"].iter_rows(min_row=2, min_col=c, max_col=c)
            if r[0].value
        ]
        for c in range(1, book["Lists"].max_column + 1)
    }
    assert "North" in lists["regions"] and "amsterdam" in lists["partners"]
    assert "rotterdam" not in lists["partners"]  # Contoso's partners are not offered
    assert open_day_label(demo) in lists["template"]
    assert sorted(lists["mode"]) == ["opt_in", "opt_out"]
    ranges = {str(v.sqref).split(":")[0] for v in sheet.data_validations.dataValidation}
    assert "B2" in ranges  # the template column has its dropdown
    table = read_table(resp.content, "campaign-sheet.xlsx", settings.campaign_sheet_max_rows)
    with Session(demo) as s:
        brand_id = s.exec(select(User.brand_id).where(User.email == MARKETING)).one()
        checked = check_sheet(s, brand_id, table.sheet, table.columns, table.rows)
    assert checked.problems == [] and len(checked.bodies) == 1


def test_a_csv_plan_reads_like_an_xlsx_one(demo: Engine) -> None:
    """Semicolons (a European Excel's CSV), region names, a zone for dates without offset."""
    label = open_day_label(demo)
    text = (
        "Name;Template;Regions;Personalise_until;Send_by;Timezone;slot:headline\n"
        f'Autumn;{label};"North; South";2030-03-01 18:00;2030-03-08;Europe/Amsterdam;Come by\n'
    )
    table = read_table(text.encode(), "plan.csv", 2000)
    with Session(demo) as s:
        brand_id = s.exec(select(User.brand_id).where(User.email == MARKETING)).one()
        checked = check_sheet(s, brand_id, table.sheet, table.columns, table.rows)
    assert checked.problems == []
    [(row, body)] = checked.bodies
    assert row == 2 and len(body.target["regions"]) == 2
    assert body.personalise_until.isoformat() == "2030-03-01T17:00:00+00:00"
    assert body.defaults == {"headline": "Come by"}


def test_brand_text_that_looks_like_a_formula_goes_out_as_text_and_comes_back(
    client: TestClient, login: Login, demo: Engine, settings: Settings
) -> None:
    """A region named "=1+1" is listed guarded (text, not a formula: openpyxl writes "=..." as
    one), and the guarded value picked from that dropdown reads back as the region's name."""
    with Session(demo) as s:
        north = s.exec(select(Region).where(Region.name == "North")).one()
        north.name = "=1+1"
        s.add(north)
        s.commit()
        brand_id, north_id = north.brand_id, north.id
    resp = client.get("/api/v1/campaign-sheets/template", headers=login(MARKETING))
    assert resp.status_code == 200
    book = load_workbook(io.BytesIO(resp.content))
    listed = [c for row in book["Lists"].iter_rows(min_row=2) for c in row if c.value]
    guarded = [c for c in listed if c.value == "'=1+1"]
    assert len(guarded) == 1 and guarded[0].data_type == "s"
    assert not [c for c in listed if c.data_type == "f"]

    row = plan_rows(open_day_label(demo), 1)[0]
    row[2] = "'=1+1"  # the region as the dropdown puts it in the cell
    columns = ["regions" if c == "partners" else c for c in COLUMNS]
    table = read_table(xlsx([row], columns), "plan.xlsx", settings.campaign_sheet_max_rows)
    assert table.rows[0]["cells"]["regions"] == "=1+1"
    with Session(demo) as s:
        checked = check_sheet(s, brand_id, table.sheet, table.columns, table.rows)
    assert checked.problems == []
    assert [body.target for _, body in checked.bodies] == [{"regions": [north_id]}]
