"""Campaign sheets as the API and the portal handle them: upload (one import per file and
brand), read, list, confirm. The rows are created by CampaignSheetWorkflow's activities
(creation.py); this module only stores, starts and asks."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy

from core.db import release_connection
from core.errors import Conflict, Forbidden, NotFound, Problem
from core.policy import Permission, Principal, Target, allows, allows_in_brand
from core.settings import Settings
from domain.states import CampaignSheetState
from models.base import utcnow
from models.campaign_sheet_io import SheetConfirm, SheetInput
from models.campaign_sheet_schemas import CampaignSheetRead, SheetProblem
from models.campaign_sheets import CampaignSheet
from services.campaign_sheets.reading import SheetFileError, Table, read_table
from services.campaigns import aware
from services.org import Actor, record_about
from services.paging import Key, Listing, Paged, PageRequest, fetch
from services.workflow_updates import problem_from
from workflows.campaign_sheet import CampaignSheetWorkflow, campaign_sheet_workflow_id


def refuse_file(err: SheetFileError) -> Problem:
    """422 on `file`, naming each refused cell when the refusal is about cells."""
    errors = [{"field": "file", "message": str(err)}]
    errors += [{"field": "file", **p} for p in err.problems]  # with sheet, row and column
    return Problem(f"file: {err}", status=422, title="Sheet refused", errors=errors)


def _audit(
    session: Session, actor: Actor, action: str, sheet: CampaignSheet, after: dict[str, Any]
) -> None:
    target = Target(sheet.brand_id)
    record_about(session, actor, action, target, "campaign_sheet", str(sheet.id), None, after)


def _by_hash(session: Session, brand_id: int, sha256: str) -> CampaignSheet | None:
    return session.exec(
        select(CampaignSheet).where(
            CampaignSheet.brand_id == brand_id, CampaignSheet.sha256 == sha256
        )
    ).first()


def ended_empty(sheet: CampaignSheet) -> bool:
    """An import that is over and created nothing (invalid, expired, every row refused): the
    same bytes uploaded again start a fresh one instead of answering it forever. A sheet
    that created campaigns is kept as the record of them (its file is answered by it)."""
    ended = sheet.state in (CampaignSheetState.invalid, CampaignSheetState.failed)
    return ended and not sheet.results


def _reimport(
    session: Session,
    actor: Actor,
    settings: Settings,
    seen: CampaignSheet,
    filename: str,
    table: Table,
) -> tuple[CampaignSheet, bool]:
    """Import attempt+1 on the same row, claimed by a conditional UPDATE on the attempt seen:
    of parallel uploads exactly one moves it on (and starts the new workflow), the others
    read the row again and answer the new import."""
    principal = actor.principal
    attempt = seen.attempt + 1
    before = seen.state.value
    claimed = session.execute(
        update(CampaignSheet)
        .where(col(CampaignSheet.id) == seen.id, col(CampaignSheet.attempt) == seen.attempt)
        .values(
            attempt=attempt,
            state=CampaignSheetState.validating,
            filename=filename[:255] or "sheet",
            sheet_name=table.sheet[:100],
            columns=table.columns,
            rows=table.rows,
            problems=[],
            results={},
            workflow_id=campaign_sheet_workflow_id(principal.brand_id, seen.sha256, attempt),
            uploaded_by=principal.user_id,
            confirmed_by=None,
            expires_at=utcnow() + timedelta(seconds=settings.campaign_sheet_confirm_within),
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        session.expire_all()
        again = session.get(CampaignSheet, seen.id)
        assert again is not None
        return again, False
    session.expire_all()
    sheet = session.get(CampaignSheet, seen.id)
    assert sheet is not None
    _audit(
        session,
        actor,
        "campaign_sheet.reimported",
        sheet,
        {"attempt": attempt, "previous_state": before, "rows": len(table.rows)},
    )
    session.commit()
    return sheet, True


def store_sheet(
    session: Session, actor: Actor, settings: Settings, filename: str, data: bytes
) -> tuple[CampaignSheet, bool]:
    """The stored sheet and True, or the brand's sheet of the same file and False; True too
    for a fresh import of a file whose last import ended empty (ended_empty). A refused file
    stores nothing (SheetFileError -> 422)."""
    principal = actor.principal
    sha256 = hashlib.sha256(data).hexdigest()
    seen = _by_hash(session, principal.brand_id, sha256)
    if seen is not None and not ended_empty(seen):
        return seen, False
    try:
        table = read_table(data, filename, settings.campaign_sheet_max_rows)
    except SheetFileError as err:
        raise refuse_file(err) from err
    if seen is not None:
        return _reimport(session, actor, settings, seen, filename, table)
    sheet = CampaignSheet(
        brand_id=principal.brand_id,
        filename=filename[:255] or "sheet",
        sha256=sha256,
        sheet_name=table.sheet[:100],
        columns=table.columns,
        rows=table.rows,
        workflow_id=campaign_sheet_workflow_id(principal.brand_id, sha256),
        uploaded_by=principal.user_id,
        expires_at=utcnow() + timedelta(seconds=settings.campaign_sheet_confirm_within),
    )
    session.add(sheet)
    try:
        session.flush()
    except IntegrityError:
        # The same file uploaded twice at once: the other request stored it.
        session.rollback()
        seen = _by_hash(session, principal.brand_id, sha256)
        if seen is None:
            raise
        return seen, False
    _audit(
        session,
        actor,
        "campaign_sheet.uploaded",
        sheet,
        {"filename": sheet.filename, "sha256": sha256, "rows": len(table.rows)},
    )
    session.commit()
    return sheet, True


async def start_sheet(client: Client, settings: Settings, sheet: CampaignSheet) -> str:
    """Idempotent by workflow id: a sheet whose start was lost (Temporal down at upload) is
    started by the next upload of the same file. Returns the run id (the same for every
    upload of one import)."""
    assert sheet.id is not None
    handle = await client.start_workflow(
        CampaignSheetWorkflow.run,
        SheetInput(
            sheet_id=sheet.id,
            brand_id=sheet.brand_id,
            filename=sheet.filename,
            task_queue=settings.temporal_task_queue,
            delivery_task_queue=settings.temporal_delivery_task_queue,
            confirm_within=settings.campaign_sheet_confirm_within,
        ),
        id=sheet.workflow_id,
        task_queue=settings.temporal_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        memo={"filename": sheet.filename, "rows": len(sheet.rows), "sheet_id": sheet.id},
        static_summary=f"Campaign sheet {sheet.filename} ({len(sheet.rows)} rows)",
    )
    return handle.first_execution_run_id or handle.result_run_id or ""


async def upload_sheet(
    session: Session,
    connect: Callable[[], Awaitable[Client]],
    actor: Actor,
    settings: Settings,
    filename: str,
    data: bytes,
) -> tuple[CampaignSheet, bool]:
    sheet, created = store_sheet(session, actor, settings, filename, data)
    if created or sheet.state == CampaignSheetState.validating:
        release_connection(session)
        await start_sheet(await connect(), settings, sheet)
    return sheet, created


def load_sheet(
    session: Session,
    principal: Principal,
    sheet_id: int,
    permission: Permission = Permission.campaign_read,
) -> CampaignSheet:
    """404 outside the principal's brand (another brand's sheet does not exist for it), 403
    when it may read but not act."""
    sheet = session.get(CampaignSheet, sheet_id)
    if sheet is None or not allows_in_brand(principal, Permission.campaign_read, sheet.brand_id):
        raise NotFound("campaign sheet", sheet_id)
    if permission != Permission.campaign_read and not allows(
        principal, permission, Target(sheet.brand_id)
    ):
        raise Forbidden(f"Your roles do not allow {permission.value} on campaign sheet {sheet_id}")
    return sheet


SHEETS = Listing(
    "campaign-sheets",
    col(CampaignSheet.id),
    {
        "created_at": Key(col(CampaignSheet.created_at), "datetime"),
        "id": Key(col(CampaignSheet.id), "int"),
    },
    default="-created_at",
)


def list_sheets(
    session: Session, principal: Principal, paging: PageRequest, sort: str = SHEETS.default
) -> Paged[CampaignSheet]:
    if not allows_in_brand(principal, Permission.campaign_read, principal.brand_id):
        return Paged([], None, 0)
    stmt = select(CampaignSheet).where(CampaignSheet.brand_id == principal.brand_id)
    return fetch(session, stmt, SHEETS, sort, paging)


async def confirm_sheet(
    session: Session,
    connect: Callable[[], Awaitable[Client]],
    actor: Actor,
    sheet: CampaignSheet,
) -> CampaignSheet:
    """HQ's go: an Update the workflow refuses unless the sheet is ready and unconfirmed (two
    confirmations at once: one wins, the other is a 409)."""
    if sheet.state != CampaignSheetState.ready:
        raise Conflict(
            f"campaign sheet {sheet.id} is {sheet.state.value}: only a ready sheet "
            "(validated, without problems) can be confirmed"
        )
    if aware(sheet.expires_at) <= utcnow():
        raise Conflict(f"campaign sheet {sheet.id} has expired unconfirmed")
    release_connection(session)
    handle = (await connect()).get_workflow_handle(sheet.workflow_id)
    try:
        await handle.execute_update(
            CampaignSheetWorkflow.confirm, SheetConfirm(user_id=actor.principal.user_id)
        )
    except WorkflowUpdateFailedError as err:
        raise problem_from(err, f"campaign sheet {sheet.id}") from err
    session.refresh(sheet)
    _audit(session, actor, "campaign_sheet.confirmed", sheet, {"state": sheet.state.value})
    session.commit()
    return sheet


def sheet_read(sheet: CampaignSheet) -> CampaignSheetRead:
    assert sheet.id is not None
    ordered = sorted(sheet.results.items(), key=lambda kv: int(kv[0]))
    return CampaignSheetRead(
        id=sheet.id,
        filename=sheet.filename,
        sha256=sheet.sha256,
        state=sheet.state,
        rows_total=len(sheet.rows),
        rows_done=len(sheet.results),
        problems=[SheetProblem.model_validate(p) for p in sheet.problems],
        campaign_ids=[campaign_id for _, campaign_id in ordered],
        workflow_id=sheet.workflow_id,
        created_at=aware(sheet.created_at),
        updated_at=aware(sheet.updated_at),
    )
