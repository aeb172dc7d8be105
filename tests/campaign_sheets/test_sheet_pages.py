"""The portal's campaign sheet pages: HQ uploads, reads the problems as a table, cannot
confirm a refused sheet; partner users and other brands see nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from models.campaign_sheets import CampaignSheet
from models.org import User
from tests.campaign_sheets.test_sheet_files import with_formula
from tests.portal.test_portal import portal, sign_in  # noqa: F401  (the fixture)


def invalid_sheet(engine: Engine) -> int:
    with Session(engine) as s:
        user = s.exec(select(User).where(User.email == "marketing@northwind.example")).one()
        sheet = CampaignSheet(
            brand_id=user.brand_id,
            filename="plan <b>.xlsx",
            sha256="1" * 64,
            state="invalid",
            sheet_name="Campaigns",
            problems=[
                {"sheet": "Campaigns", "row": 7, "column": "partners", "message": "unknown x"}
            ],
            workflow_id="campaign-sheet-page",
            uploaded_by=user.id or 0,
            expires_at=datetime.now(UTC) + timedelta(days=7),
        )
        s.add(sheet)
        s.commit()
        return sheet.id or 0


def test_hq_uploads_and_reads_problems(portal: TestClient, demo: Engine) -> None:  # noqa: F811
    sheet_id = invalid_sheet(demo)
    token = sign_in(portal, "marketing@northwind.example")
    page = portal.get("/campaign-sheets")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    assert 'href="/campaign-sheets"' in page.text  # in the navigation
    template = portal.get("/campaign-sheets/template")
    assert template.status_code == 200 and template.content.startswith(b"PK")
    refused = portal.post(
        "/campaign-sheets",
        data={"csrf_token": token},
        files={"file": ("plan.xlsx", with_formula())},
    )
    assert refused.status_code == 422 and "formula" in refused.text
    shown = portal.get(f"/campaign-sheets/{sheet_id}")
    assert shown.status_code == 200
    assert "<td>7</td><td>partners</td><td>unknown x</td>" in shown.text
    assert "plan &lt;b&gt;.xlsx" in shown.text  # the file's name is data
    confirm = portal.post(f"/campaign-sheets/{sheet_id}/confirm", data={"csrf_token": token})
    assert confirm.status_code == 409


def test_partner_users_and_other_brands_see_no_sheet(
    portal: TestClient,  # noqa: F811
    demo: Engine,
) -> None:
    sheet_id = invalid_sheet(demo)
    sign_in(portal, "admin@contoso.example")
    assert portal.get(f"/campaign-sheets/{sheet_id}").status_code == 404
    assert "plan &lt;b&gt;" not in portal.get("/campaign-sheets").text
    portal.cookies.clear()
    sign_in(portal, "editor.amsterdam@northwind.example")
    assert portal.get("/campaign-sheets").status_code == 403
    assert portal.get(f"/campaign-sheets/{sheet_id}").status_code == 403


def test_a_partner_editor_downloads_and_returns_a_value_sheet(
    portal: TestClient,  # noqa: F811
    demo: Engine,
) -> None:
    token = sign_in(portal, "editor.amsterdam@northwind.example")
    sheet = portal.get("/my-campaigns/values.xlsx")
    assert sheet.status_code == 200 and sheet.content.startswith(b"PK")
    refused = portal.post(
        "/my-campaigns/values",
        data={"csrf_token": token},
        files={"file": ("values.csv", b"partner_campaign_id,slot:headline\n999999,Hi <b>\n")},
    )
    assert refused.status_code == 422
    assert "<td>2</td><td>partner_campaign_id</td>" in refused.text
    portal.cookies.clear()
    sign_in(portal, "marketing@northwind.example")
    assert portal.get("/my-campaigns/values.xlsx").status_code == 403
