"""Campaign sheets end to end: a 20-row sheet creates and launches 20 campaigns once (the same
file again, and the creation activity run again, create none), a sheet with 3 bad rows names
exactly those 3, and other brands and partner users see nothing."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from models.campaign_sheet_io import SheetRows
from models.campaign_sheets import CampaignSheet
from models.campaigns import Campaign, PartnerCampaign
from services.campaign_sheets import creation
from tests.campaign_sheets.sheets import open_day_label, plan_rows, xlsx

MARKETING = "marketing@northwind.example"
Login = Callable[[str], dict[str, str]]


async def upload(api: httpx.AsyncClient, headers: dict[str, str], data: bytes) -> httpx.Response:
    files = {"file": ("plan.xlsx", data, "application/octet-stream")}
    return await api.post("/api/v1/campaign-sheets", files=files, headers=headers)


async def settled(
    api: httpx.AsyncClient, headers: dict[str, str], sheet_id: int, *passing: str
) -> dict[str, Any]:
    """The sheet once its state has left `passing` (a bounded wait, not a timing assertion)."""
    for _ in range(600):
        body: dict[str, Any] = (
            await api.get(f"/api/v1/campaign-sheets/{sheet_id}", headers=headers)
        ).json()
        if body["state"] not in passing:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"sheet {sheet_id} stayed {body['state']}")


def sheet_campaigns(engine: Engine) -> int:
    with Session(engine) as s:
        return s.exec(
            select(func.count())
            .select_from(Campaign)
            .where(col(Campaign.idempotency_key).like("%campaign-sheet:%"))
        ).one()


async def test_a_twenty_row_sheet_creates_twenty_campaigns_once(
    app_with_worker: httpx.AsyncClient,
    demo: Engine,
    login: Login,
    workflow_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    api, hq = app_with_worker, login(MARKETING)
    label = open_day_label(demo)

    # Three bad rows among twenty: refused, each named by row and column, nothing created.
    rows = plan_rows(label, 20, "bad ")
    rows[4][2] = "atlantis"  # unknown partner code (sheet row 6)
    rows[8][4] = rows[8][3]  # send_by not after personalise_until (row 10)
    rows[13][1] = "Nonsense v9"  # no such template version (row 15)
    resp = await upload(api, hq, xlsx(rows))
    assert resp.status_code == 202, resp.text
    bad = await settled(api, hq, resp.json()["id"], "validating")
    assert bad["state"] == "invalid"
    assert sorted((p["row"], p["column"]) for p in bad["problems"]) == [
        (6, "partners"),
        (10, "send_by"),
        (15, "template"),
    ]
    assert all(p["sheet"] == "Campaigns" and p["message"] for p in bad["problems"])
    confirm = await api.post(f"/api/v1/campaign-sheets/{bad['id']}/confirm", headers=hq)
    assert confirm.status_code == 409
    assert sheet_campaigns(demo) == 0

    # Twenty good rows: validated, confirmed, created and launched.
    data = xlsx(plan_rows(label, 20))
    resp = await upload(api, hq, data)
    assert resp.status_code == 202, resp.text
    sheet = await settled(api, hq, resp.json()["id"], "validating")
    assert (sheet["state"], sheet["rows_total"], sheet["problems"]) == ("ready", 20, [])
    again = await upload(api, hq, data)
    assert (again.status_code, again.json()["id"]) == (200, sheet["id"])

    # Two confirmations at once: one starts the creation, the other is refused.
    url = f"/api/v1/campaign-sheets/{sheet['id']}/confirm"
    answers = await asyncio.gather(api.post(url, headers=hq), api.post(url, headers=hq))
    assert sorted(a.status_code for a in answers) == [202, 409], [a.text for a in answers]
    accepted = next(a for a in answers if a.status_code == 202)
    assert accepted.json()["state"] in ("creating", "completed")
    done = await settled(api, hq, sheet["id"], "creating")
    assert (done["state"], done["rows_done"], len(done["campaign_ids"])) == ("completed", 20, 20)
    with Session(demo) as s:
        campaigns = s.exec(select(Campaign).where(col(Campaign.id).in_(done["campaign_ids"])))
        assert {c.state for c in campaigns} == {"running"}
    assert sheet_campaigns(demo) == 20

    # The same file again, and the creation activity run again (a retry after a killed worker),
    # create nothing.
    again = await upload(api, hq, data)
    assert (again.status_code, again.json()["campaign_ids"]) == (200, done["campaign_ids"])
    with Session(demo) as s:
        stored = s.exec(select(CampaignSheet).where(CampaignSheet.id == sheet["id"])).one()
        confirmed_by = stored.confirmed_by or 0
    job = SheetRows(
        sheet_id=sheet["id"],
        user_id=confirmed_by,
        start=0,
        stop=20,
        task_queue=settings.temporal_task_queue,
        delivery_task_queue=settings.temporal_delivery_task_queue,
    )
    with Session(demo) as s:  # as if the worker died before it recorded the rows
        stored = s.exec(select(CampaignSheet).where(CampaignSheet.id == sheet["id"])).one()
        stored.results = {}
        s.add(stored)
        s.commit()
    for _ in range(2):
        progress = await creation.create_rows(demo, workflow_env.client, job)
        assert progress.rows_done == 20
    assert sheet_campaigns(demo) == 20
    final = (await api.get(f"/api/v1/campaign-sheets/{sheet['id']}", headers=hq)).json()
    assert final["campaign_ids"] == done["campaign_ids"]

    # Tenants: another brand and partner users see nothing of it.
    contoso = login("admin@contoso.example")
    assert (
        await api.get(f"/api/v1/campaign-sheets/{sheet['id']}", headers=contoso)
    ).status_code == 404
    assert (await api.get("/api/v1/campaign-sheets", headers=contoso)).json()["items"] == []
    other = await api.post(f"/api/v1/campaign-sheets/{sheet['id']}/confirm", headers=contoso)
    assert other.status_code == 404
    editor = login("editor.amsterdam@northwind.example")
    assert (
        await api.get(f"/api/v1/campaign-sheets/{sheet['id']}", headers=editor)
    ).status_code == 403
    listed = (await api.get("/api/v1/campaign-sheets", headers=hq)).json()["items"]
    assert {s["id"] for s in listed} == {sheet["id"], bad["id"]}

    await partners_return_their_values(api, demo, login, done["campaign_ids"])


def value_rows(data: bytes) -> tuple[list[str], list[list[Any]]]:
    sheet = load_workbook(io.BytesIO(data))["Values"]
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    return [str(c) for c in rows[0]], rows[1:]


async def partners_return_their_values(
    api: httpx.AsyncClient, demo: Engine, login: Login, campaign_ids: list[int]
) -> None:
    """The dealer's half: Amsterdam's editor downloads its open partner campaigns, fills a
    slot in two rows and uploads the sheet; a bad row refuses it all, Berlin cannot touch it."""
    editor = login("editor.amsterdam@northwind.example")
    resp = await api.get("/api/v1/partner-value-sheets", headers=editor)
    assert resp.status_code == 200
    header, rows = value_rows(resp.content)
    assert header[0] == "partner_campaign_id" and "slot:headline" in header
    assert {r[1] for r in rows} == {"amsterdam"}
    with Session(demo) as s:
        ours = s.exec(
            select(PartnerCampaign).where(col(PartnerCampaign.campaign_id).in_(campaign_ids))
        ).all()
        assert len(ours) == 20
    ids = {pc.id for pc in ours}
    mine = [r for r in rows if r[0] in ids][:2]
    assert len(mine) == 2
    headline, event_date = header.index("slot:headline"), header.index("slot:event_date")
    for n, row in enumerate(mine):
        row[headline] = f"From the sheet {n}"
        row[event_date] = (datetime.now(UTC) + timedelta(days=5)).date()  # a date cell
    good = xlsx(mine, header, "Values")

    bad = [*mine, [999999999, "", "", "", *([None] * (len(header) - 4))]]
    refused = await api.post(
        "/api/v1/partner-value-sheets",
        files={"file": ("values.xlsx", xlsx(bad, header, "Values"))},
        headers=editor,
    )
    assert refused.status_code == 422, refused.text
    assert [(e["row"], e["column"]) for e in refused.json()["errors"]] == [
        (4, "partner_campaign_id")
    ]
    berlin = login("gm.berlin@northwind.example")
    foreign = await api.post(
        "/api/v1/partner-value-sheets",
        files={"file": ("values.xlsx", good)},
        headers=berlin,
    )
    assert foreign.status_code == 422
    assert {e["row"] for e in foreign.json()["errors"]} == {2, 3}
    with Session(demo) as s:
        saved = s.exec(select(PartnerCampaign).where(col(PartnerCampaign.id).in_(ids))).all()
        assert not any(str(pc.values.get("headline", "")).startswith("From") for pc in saved)

    resp = await api.post(
        "/api/v1/partner-value-sheets", files={"file": ("values.xlsx", good)}, headers=editor
    )
    assert resp.status_code == 200, resp.text
    assert [r["saved"] for r in resp.json()["rows"]] == [True, True]
    with Session(demo) as s:
        for n, row in enumerate(mine):
            pc = s.get(PartnerCampaign, row[0])
            assert pc is not None and pc.values["headline"] == f"From the sheet {n}"

    # A value that looks like a formula: typed guarded, saved as the text, sent out guarded.
    mine[0][headline] = "'=1+1"
    resp = await api.post(
        "/api/v1/partner-value-sheets",
        files={"file": ("values.xlsx", xlsx(mine[:1], header, "Values"))},
        headers=editor,
    )
    assert resp.status_code == 200, resp.text
    with Session(demo) as s:
        pc = s.get(PartnerCampaign, mine[0][0])
        assert pc is not None and pc.values["headline"] == "=1+1"
    resp = await api.get("/api/v1/partner-value-sheets", headers=editor)
    sheet = load_workbook(io.BytesIO(resp.content))["Values"]
    cells = [r[headline] for r in sheet.iter_rows(min_row=2) if r[0].value == mine[0][0]]
    assert [(c.value, c.data_type) for c in cells] == [("'=1+1", "s")]
