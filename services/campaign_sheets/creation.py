"""The database side of CampaignSheetWorkflow: check the rows, begin, create and launch them,
finish or expire. Every step is idempotent, because Temporal retries activities and a worker
may die between any two lines:

- a row is created with the Idempotency-Key "campaign-sheet:<sha256>:row:<n>" of the
  confirming user (services.campaigns.create_campaign answers a key it has seen with that
  campaign), and launched with services.campaign_actions.launch, which only makes sure a
  running campaign's workflow exists; the row's campaign id is then kept in `results`;
- a step that finds its work done (a state already moved on) answers as if it had done it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.client import Client

from core.errors import Problem
from domain.states import CampaignSheetState
from models.base import utcnow
from models.campaign_sheet_io import SheetChecked, SheetConfirm, SheetProgress, SheetRows
from models.campaign_sheets import CampaignSheet
from models.org import User
from services.accounts import principal_for
from services.campaign_actions import launch
from services.campaign_sheets.rows import Choices, SheetRow, brand_choices, check_row, check_sheet
from services.campaigns import create_campaign
from services.org import Actor

S = CampaignSheetState


def row_key(sheet: CampaignSheet, number: int) -> str:
    return f"campaign-sheet:{sheet.sha256}:row:{number}"


def _sheet(session: Session, sheet_id: int) -> CampaignSheet:
    sheet = session.get(CampaignSheet, sheet_id)
    if sheet is None:
        raise ValueError(f"campaign sheet {sheet_id} does not exist")
    return sheet


def progress(sheet: CampaignSheet) -> SheetProgress:
    return SheetProgress(
        sheet_id=sheet.id or 0,
        state=sheet.state.value,
        rows_total=len(sheet.rows),
        rows_done=len(sheet.results),
    )


def _checked(sheet: CampaignSheet) -> SheetChecked:
    return SheetChecked(
        ok=not sheet.problems, rows_total=len(sheet.rows), problems=len(sheet.problems)
    )


def _check(session: Session, sheet: CampaignSheet) -> SheetChecked:
    checked = check_sheet(session, sheet.brand_id, sheet.sheet_name, sheet.columns, sheet.rows)
    sheet.problems = checked.problems
    sheet.state = S.invalid if checked.problems else S.ready
    sheet.updated_at = utcnow()
    session.add(sheet)
    return _checked(sheet)


def validate_sheet(engine: Engine, sheet_id: int) -> SheetChecked:
    with Session(engine, expire_on_commit=False) as session:
        sheet = _sheet(session, sheet_id)
        if sheet.state != S.validating:
            return _checked(sheet)
        checked = _check(session, sheet)
        session.commit()
        return checked


def begin_sheet(engine: Engine, sheet_id: int, confirm: SheetConfirm) -> SheetChecked:
    """Check every row once more (a template archived or a window passed since the upload
    refuses the sheet as a whole, still creating nothing), then mark it creating."""
    with Session(engine, expire_on_commit=False) as session:
        sheet = _sheet(session, sheet_id)
        if sheet.state in (S.creating, S.completed, S.failed, S.invalid):
            return _checked(sheet)
        checked = _check(session, sheet)
        if checked.ok:
            sheet.state = S.creating
            sheet.confirmed_by = confirm.user_id
        session.commit()
        return checked


async def create_rows(engine: Engine, client: Client, job: SheetRows) -> SheetProgress:
    with Session(engine, expire_on_commit=False) as session:
        sheet = _sheet(session, job.sheet_id)
        user = session.get(User, job.user_id)
        if user is None:
            raise ValueError(f"user {job.user_id} does not exist")
        actor = Actor(principal_for(session, user), f"campaign-sheet-{sheet.id}")
        choices = brand_choices(session, sheet.brand_id)
        for index in range(job.start, min(job.stop, len(sheet.rows))):
            raw = sheet.rows[index]
            number = int(raw["row"])
            if str(number) not in sheet.results:
                campaign_id = await _create_row(session, client, job, actor, sheet, choices, raw)
                session.refresh(sheet)
                if campaign_id is not None:
                    sheet.results = {**sheet.results, str(number): campaign_id}
                    sheet.updated_at = utcnow()
                    session.add(sheet)
                    session.commit()
            if activity.in_activity():
                activity.heartbeat(index)
        return progress(sheet)


async def _create_row(
    session: Session,
    client: Client,
    job: SheetRows,
    actor: Actor,
    sheet: CampaignSheet,
    choices: Choices,
    raw: dict[str, Any],
) -> int | None:
    """The row's campaign id once created and launched; None when it was refused now (the
    problem is kept on the sheet, the other rows go on)."""
    row = SheetRow(sheet.sheet_name, int(raw["row"]), dict(raw["cells"]))
    body = check_row(session, sheet.brand_id, choices, row)
    if body is not None:
        try:
            campaign, _ = create_campaign(session, actor, body, row_key(sheet, row.number))
            session.commit()
            await launch(
                session,
                client,
                job.task_queue,
                actor,
                campaign,
                delivery_task_queue=job.delivery_task_queue,
            )
            return campaign.id
        except Problem as err:
            session.rollback()
            row.problem("", err.detail)
    session.refresh(sheet)
    known = {(p["row"], p["column"], p["message"]) for p in sheet.problems}
    fresh = [p for p in row.problems if (p["row"], p["column"], p["message"]) not in known]
    sheet.problems = [*sheet.problems, *fresh]
    session.add(sheet)
    session.commit()
    return None


def finish_sheet(engine: Engine, sheet_id: int) -> SheetProgress:
    with Session(engine, expire_on_commit=False) as session:
        sheet = _sheet(session, sheet_id)
        if sheet.state == S.creating:
            done = len(sheet.results) == len(sheet.rows)
            sheet.state = S.completed if done else S.failed
            sheet.updated_at = utcnow()
            session.add(sheet)
            session.commit()
        return progress(sheet)


def expire_sheet(engine: Engine, sheet_id: int) -> SheetProgress:
    with Session(engine, expire_on_commit=False) as session:
        sheet = _sheet(session, sheet_id)
        if sheet.state == S.ready:
            sheet.state = S.failed
            sheet.problems = [
                {
                    "sheet": sheet.sheet_name,
                    "row": 0,
                    "column": "",
                    "message": "expired: nobody confirmed the sheet in time; nothing was created",
                }
            ]
            sheet.updated_at = utcnow()
            session.add(sheet)
            session.commit()
        return progress(sheet)
