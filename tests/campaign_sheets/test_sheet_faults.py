"""Campaign sheets under faults, through Temporal and the real worker: a creation activity that
dies part-way through its batch is retried by Temporal and still ends with each row created
and launched once; a row refused at creation leaves the sheet `failed` with that row named and
the others created; an expired sheet's file starts a fresh import; parallel uploads of one
file are one sheet and one workflow."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from domain.states import CampaignSheetState
from models.approvals import ApprovalPolicy
from models.base import utcnow
from models.campaign_sheet_io import SheetProgress, SheetRows
from models.campaign_sheets import CampaignSheet
from models.campaigns import Campaign, PartnerCampaign
from models.org import User
from scripts.demo.approvals import seed_demo_approvals
from services.accounts import principal_for
from services.campaign_sheets import creation, store
from services.org import Actor
from tests.campaign_sheets.sheets import COLUMNS, open_day_label, plan_rows, xlsx
from tests.campaign_sheets.test_campaign_sheets import MARKETING, settled, upload

Login = Callable[[str], dict[str, str]]
CreateRows = Callable[[Engine, Client, SheetRows], Any]


async def run_out(
    env: WorkflowEnvironment, workflow_id: str, step: timedelta = timedelta(seconds=1)
) -> SheetProgress:
    """The sheet workflow's outcome, skipping the server's clock by `step` while it runs (the
    retry backoff, the confirmation window); a bounded wait, not a timing assertion."""
    handle = env.client.get_workflow_handle(workflow_id, result_type=SheetProgress)
    for _ in range(300):
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return await handle.result()
        await env.sleep(step)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} is still running")


async def confirmed(
    api: httpx.AsyncClient, env: WorkflowEnvironment, hq: dict[str, str], data: bytes
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Upload, wait until ready, confirm, run the workflow out: (the outcome, the sheet)."""
    resp = await upload(api, hq, data)
    assert resp.status_code == 202, resp.text
    sheet = await settled(api, hq, resp.json()["id"], "validating")
    assert sheet["state"] == "ready", sheet["problems"]
    confirm = await api.post(f"/api/v1/campaign-sheets/{sheet['id']}/confirm", headers=hq)
    assert confirm.status_code == 202, confirm.text
    await run_out(env, sheet["workflow_id"])
    body = (await api.get(f"/api/v1/campaign-sheets/{sheet['id']}", headers=hq)).json()
    return body, sheet


def launched_once(engine: Engine, campaign_ids: list[int]) -> None:
    """Each campaign is running with one partner campaign (amsterdam), none twice."""
    with Session(engine) as s:
        campaigns = s.exec(select(Campaign).where(col(Campaign.id).in_(campaign_ids))).all()
        assert len(campaigns) == len(campaign_ids) and {c.state for c in campaigns} == {"running"}
        partner_rows = s.exec(
            select(PartnerCampaign.campaign_id).where(
                col(PartnerCampaign.campaign_id).in_(campaign_ids)
            )
        ).all()
        assert sorted(partner_rows) == sorted(campaign_ids)
        keys = s.exec(
            select(Campaign.idempotency_key).where(
                col(Campaign.idempotency_key).like("%campaign-sheet:%")
            )
        ).all()
        assert len(keys) == len(set(keys))


async def test_faults_during_creation_and_a_fresh_import_after_expiry(
    app_with_worker: httpx.AsyncClient,
    demo: Engine,
    login: Login,
    workflow_env: WorkflowEnvironment,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api, hq, env = app_with_worker, login(MARKETING), workflow_env
    label = open_day_label(demo)
    real: CreateRows = creation.create_rows

    # An expired sheet: the same bytes start a fresh import of it (same sheet, new workflow).
    data = xlsx(plan_rows(label, 2, "later "))
    resp = await upload(api, hq, data)
    first = await settled(api, hq, resp.json()["id"], "validating")
    assert first["state"] == "ready"
    expired = await run_out(env, first["workflow_id"], timedelta(days=8))
    assert expired.state == "failed"
    again = await upload(api, hq, data)
    assert again.status_code == 202, again.text
    fresh = again.json()
    assert (fresh["id"], fresh["state"]) == (first["id"], "validating")
    assert fresh["workflow_id"] == f"{first['workflow_id']}-2"
    same = await upload(api, hq, data)  # while the fresh import is live: the same import
    assert (same.status_code, same.json()["workflow_id"]) == (200, fresh["workflow_id"])
    ready = await settled(api, hq, fresh["id"], "validating")
    assert (ready["state"], ready["problems"]) == ("ready", [])
    confirm = await api.post(f"/api/v1/campaign-sheets/{fresh['id']}/confirm", headers=hq)
    assert confirm.status_code == 202, confirm.text
    assert (await run_out(env, fresh["workflow_id"])).state == "completed"
    done = await upload(api, hq, data)  # a completed import is answered, never redone
    assert (done.status_code, done.json()["rows_done"]) == (200, 2)

    # The first attempt of a batch dies after three rows were created, the third one's result
    # lost as if the worker died between its commit and the result's: Temporal's retry ends
    # with exactly five campaigns, each launched once.
    calls: list[int] = []

    async def dies_part_way(engine: Engine, client: Client, job: SheetRows) -> SheetProgress:
        calls.append(job.start)
        if len(calls) > 1:
            return await real(engine, client, job)
        await real(engine, client, job.model_copy(update={"stop": job.start + 3}))
        with Session(engine) as s:
            sheet = s.get(CampaignSheet, job.sheet_id)
            assert sheet is not None and len(sheet.results) == 3
            sheet.results = {k: v for k, v in sheet.results.items() if k != "4"}  # row 4
            s.add(sheet)
            s.commit()
        raise RuntimeError("worker lost in the middle of the batch")

    monkeypatch.setattr(creation, "create_rows", dies_part_way)
    body, _ = await confirmed(api, env, hq, xlsx(plan_rows(label, 5, "fault ")))
    assert calls == [0, 0]
    assert (body["state"], body["rows_done"], body["problems"]) == ("completed", 5, [])
    assert len(set(body["campaign_ids"])) == 5
    launched_once(demo, body["campaign_ids"])

    # A row refused at creation (its approval policy archived after the confirmation): the
    # sheet ends failed, the row's problem in the API, the other rows created.
    async def policy_archived(engine: Engine, client: Client, job: SheetRows) -> SheetProgress:
        with Session(engine) as s:
            policy = s.exec(select(ApprovalPolicy).where(ApprovalPolicy.name == "Standard")).one()
            policy.archived_at = utcnow()
            s.add(policy)
            s.commit()
        return await real(engine, client, job)

    with Session(demo) as s:
        seed_demo_approvals(s)  # the brand policy "Standard"
        s.commit()
    monkeypatch.setattr(creation, "create_rows", policy_archived)
    rows = [[*r, "gm"] for r in plan_rows(label, 3, "policy ")]
    rows[1][-1] = "Standard"  # sheet row 3
    body, _ = await confirmed(api, env, hq, xlsx(rows, [*COLUMNS, "approval_policy"]))
    assert (body["state"], body["rows_done"], len(body["campaign_ids"])) == ("failed", 2, 2)
    assert [(p["row"], bool(p["message"])) for p in body["problems"]] == [(3, True)]
    launched_once(demo, body["campaign_ids"])


def _upload_in_threads(
    engine: Engine, settings: Settings, data: bytes, count: int
) -> list[tuple[CampaignSheet, bool]]:
    """`count` uploads of the same bytes at once, each in its own thread and session."""
    gate = threading.Barrier(count)

    def one(_: int) -> tuple[CampaignSheet, bool]:
        with Session(engine, expire_on_commit=False) as s:
            user = s.exec(select(User).where(User.email == MARKETING)).one()
            actor = Actor(principal_for(s, user), "parallel")
            gate.wait()
            return store.store_sheet(s, actor, settings, "plan.xlsx", data)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


async def test_parallel_uploads_of_one_file_are_one_sheet_and_one_workflow(
    demo: Engine, settings: Settings, workflow_env: WorkflowEnvironment
) -> None:
    data = xlsx(plan_rows(open_day_label(demo), 2, "parallel "))
    for attempt in (1, 2):
        answers = _upload_in_threads(demo, settings, data, 4)
        assert sorted(created for _, created in answers) == [False, False, False, True]
        assert len({sheet.id for sheet, _ in answers}) == 1
        assert {(s.attempt, s.state) for s, _ in answers} == {(attempt, "validating")}
        runs = await asyncio.gather(
            *(store.start_sheet(workflow_env.client, settings, s) for s, _ in answers)
        )
        assert len(set(runs)) == 1 and runs[0]
        with Session(demo) as s:
            stored = s.exec(select(CampaignSheet)).all()
            assert [(x.attempt, x.workflow_id) for x in stored] == [
                (attempt, answers[0][0].workflow_id)
            ]
            # as if it expired: the next uploads of the same bytes race for the fresh import
            stored[0].state = CampaignSheetState.failed
            s.add(stored[0])
            s.commit()
