"""GET /api/v1/reports/...: thin routes over the report functions, scoped to the reader, with
downloads and 422s naming the field."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from domain.states import PartnerCampaignState as PC
from tests.reporting.report_builders import T0, World

EVIL = '=HYPERLINK("http://evil.example","x")'
Login = Callable[[str], dict[str, str]]
R = "/api/v1/reports"


def _data(demo: Engine) -> World:
    with Session(demo) as s:
        w = World.existing(s, "northwind")
        c = w.campaign(s, EVIL)
        for name in ("Amsterdam", "Berlin", "Munich"):
            name = f"Northwind Fitness {name}"
            row = w.invite(s, c, name)
            w.move(s, row, "open", PC.drafting, T0)
            w.move(s, row, "submit", PC.pending_approval, T0 + timedelta(days=1))
            w.cycle(s, row, "to_submission", 86400, ended=T0 + timedelta(days=1))
            w.deliveries(s, row, 2, T0 + timedelta(days=2))
        s.commit()
        return w


def test_hq_reads_every_report_as_json(demo: Engine, client: TestClient, login: Login) -> None:
    _data(demo)
    admin = login("admin@northwind.example")
    funnel = client.get(f"{R}/funnel", headers=admin)
    assert funnel.status_code == 200, funnel.text
    body = funnel.json()
    assert {r["label"]: r["submitted"] for r in body["rows"]} == {"North": 2, "South": 1}
    assert body["total"]["invited"] == 3
    ttm = client.get(f"{R}/time-to-market", params={"group": "region"}, headers=admin).json()
    assert ttm["to_submission"][-1] == {
        "label": "All",
        "region_id": None,
        "stage": None,
        "count": 3,
        "median_seconds": 86400.0,
        "p90_seconds": 86400.0,
    }
    assert client.get(f"{R}/quality", headers=admin).json()["submissions"] == 3
    delivery = client.get(f"{R}/delivery", params={"group": "partner"}, headers=admin).json()
    assert delivery["total"][0]["figures"]["sent"] == 6
    trend = client.get(f"{R}/trend", params={"period": "month"}, headers=admin).json()
    assert trend["period"] == "month" and trend["points"][0]["figures"]["sent"] == 6


def test_region_manager_reads_its_region_only(
    demo: Engine, client: TestClient, login: Login
) -> None:
    w = _data(demo)
    north = login("north@northwind.example")
    rows = client.get(f"{R}/delivery", params={"group": "partner"}, headers=north).json()["rows"]
    assert {r["label"] for r in rows} == {"Northwind Fitness Amsterdam", "Northwind Fitness Berlin"}
    south_id = w.regions["South"]
    assert (
        client.get(f"{R}/funnel", params={"region_id": south_id}, headers=north).status_code == 404
    )
    munich = w.partners["Northwind Fitness Munich"]
    assert client.get(f"{R}/trend", params={"partner_id": munich}, headers=north).status_code == 404


def test_partner_users_get_their_own_report_only(
    demo: Engine, client: TestClient, login: Login
) -> None:
    w = _data(demo)
    editor = login("editor.amsterdam@northwind.example")
    assert client.get(f"{R}/funnel", headers=editor).status_code == 403
    assert client.get(f"{R}/delivery", headers=editor).status_code == 403
    mine = client.get(f"{R}/mine", headers=editor)
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["partner_name"] == "Northwind Fitness Amsterdam" and body["region_name"] == "North"
    # Two partners of North have data: below the minimum group, no region figure.
    assert body["group_size"] == 2 and body["comparable"] is False
    assert all(f["region_median"] is None for f in body["figures"])
    assert {f["metric"]: f["own"] for f in body["figures"]}["sent"] == 2
    berlin = w.partners["Northwind Fitness Berlin"]
    assert client.get(f"{R}/mine", params={"partner_id": berlin}, headers=editor).status_code == 404


def test_another_brand_sees_nothing(demo: Engine, client: TestClient, login: Login) -> None:
    w = _data(demo)
    contoso = login("admin@contoso.example")
    body = client.get(f"{R}/funnel", headers=contoso).json()
    assert body["rows"] == [] and body["total"]["invited"] == 0
    assert client.get(f"{R}/delivery", headers=contoso).json()["rows"] == []
    amsterdam = w.partners["Northwind Fitness Amsterdam"]
    resp = client.get(f"{R}/funnel", params={"partner_id": amsterdam}, headers=contoso)
    assert resp.status_code == 404


def test_downloads_are_guarded(demo: Engine, client: TestClient, login: Login) -> None:
    _data(demo)
    admin = login("admin@northwind.example")
    resp = client.get(f"{R}/funnel", params={"group": "campaign", "format": "csv"}, headers=admin)
    assert resp.status_code == 200
    assert resp.headers["content-disposition"] == 'attachment; filename="report-funnel.csv"'
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(resp.text)))
    assert rows[0][:3] == ["Group", "Invited", "Drafting"]
    assert rows[1][0] == "'" + EVIL
    xlsx = client.get(
        f"{R}/delivery", params={"group": "campaign", "format": "xlsx"}, headers=admin
    )
    assert xlsx.status_code == 200
    assert 'filename="report-delivery.xlsx"' in xlsx.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "'=HYPERLINK" in sheet and "<f>" not in sheet
    stuck = client.get(f"{R}/funnel", params={"format": "csv", "table": "stuck"}, headers=admin)
    assert stuck.status_code == 200 and stuck.text.startswith("Campaign,Partner")


def test_bad_parameters_are_422_naming_the_field(
    demo: Engine, client: TestClient, login: Login
) -> None:
    admin = login("admin@northwind.example")
    cases = [
        ("funnel", {"since": "2026-03-10", "until": "2026-03-01"}, "until"),
        ("funnel", {"since": "2026-03-10", "until": "2026-03-10"}, "until"),
        ("delivery", {"group": "country"}, "group"),
        ("trend", {"period": "day"}, "period"),
        ("quality", {"format": "pdf"}, "format"),
        ("delivery", {"since": "yesterday"}, "since"),
        ("delivery", {"channel": "pigeon"}, "channel"),
        ("funnel", {"region_id": "0"}, "region_id"),
        ("funnel", {"format": "csv", "table": "overdue"}, "table"),
        ("mine", {}, "partner_id"),
    ]
    for route, params, field in cases:
        resp = client.get(f"{R}/{route}", params=params, headers=admin)
        assert resp.status_code == 422, (route, params, resp.text)
        assert field in resp.text, (route, params, resp.text)
