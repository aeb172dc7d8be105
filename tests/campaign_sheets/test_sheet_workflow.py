"""A sheet nobody confirms expires (time-skipping server): nothing is created and the state
says why (the confirm route then answers 409 from that state)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.campaign_sheets import CampaignSheetActivities
from models.base import utcnow
from models.campaign_sheet_io import SheetInput
from models.campaign_sheets import CampaignSheet
from models.org import User
from services.campaign_sheets.reading import read_table
from tests.campaign_sheets.sheets import open_day_label, plan_rows, xlsx
from workflows.campaign_sheet import CampaignSheetWorkflow

DAY = 86400


async def test_an_unconfirmed_sheet_expires(
    demo: Engine, workflow_env: WorkflowEnvironment
) -> None:
    table = read_table(xlsx(plan_rows(open_day_label(demo), 2)), "plan.xlsx", 2000)
    with Session(demo) as s:
        user = s.exec(select(User).where(User.email == "marketing@northwind.example")).one()
        sheet = CampaignSheet(
            brand_id=user.brand_id,
            filename="plan.xlsx",
            sha256=uuid.uuid4().hex,
            sheet_name=table.sheet,
            columns=table.columns,
            rows=table.rows,
            workflow_id=f"campaign-sheet-test-{uuid.uuid4().hex}",
            uploaded_by=user.id or 0,
            expires_at=utcnow() + timedelta(days=7),
        )
        s.add(sheet)
        s.commit()
        sheet_id, workflow_id = sheet.id or 0, sheet.workflow_id
    queue = f"sheets-{uuid.uuid4().hex[:8]}"
    acts = CampaignSheetActivities(demo)
    with ThreadPoolExecutor(2) as pool:
        async with Worker(
            workflow_env.client,
            task_queue=queue,
            workflows=[CampaignSheetWorkflow],
            activities=[
                acts.validate_campaign_sheet,
                acts.begin_campaign_sheet,
                acts.create_campaign_sheet_rows,
                acts.finish_campaign_sheet,
                acts.expire_campaign_sheet,
            ],
            activity_executor=pool,
        ):
            handle = await workflow_env.client.start_workflow(
                CampaignSheetWorkflow.run,
                SheetInput(
                    sheet_id=sheet_id,
                    brand_id=0,
                    filename="plan.xlsx",
                    task_queue=queue,
                    delivery_task_queue=queue,
                    confirm_within=7 * DAY,
                ),
                id=workflow_id,
                task_queue=queue,
            )
            outcome = await handle.result()
            assert (outcome.state, outcome.rows_total, outcome.rows_done) == ("failed", 2, 0)
    with Session(demo) as s:
        stored = s.get(CampaignSheet, sheet_id)
        assert stored is not None and stored.state == "failed" and stored.results == {}
        assert "expired" in stored.problems[0]["message"]
