"""Campaigns approved before scheduling became a task get their task from the migration
that introduced it (f26e18n00001), as the projection would have opened it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from sqlalchemy import Engine
from sqlmodel import Session, select

from domain.states import TaskKind
from models.campaigns import ApprovalTask, Campaign
from tests.campaigns.test_notifications import _row

MIGRATION = next(
    (Path(__file__).parents[2] / "migrations" / "versions").glob("*_f26e18n00001_*.py")
)


def _migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("schedule_backfill", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _schedule_tasks(engine: Engine) -> dict[int, ApprovalTask]:
    with Session(engine) as s:
        rows = s.exec(select(ApprovalTask).where(ApprovalTask.kind == TaskKind.schedule)).all()
    return {t.partner_campaign_id: t for t in rows}


def test_approved_campaigns_without_a_schedule_task_get_one_once(demo: Engine) -> None:
    _, approved = _row(demo, state="approved", name="Approved long ago")
    _, reopened = _row(demo, state="approved", name="Approved, task closed")
    _, waiting = _row(demo, state="pending_approval", name="Still waiting")
    with Session(demo) as s:
        s.add(
            ApprovalTask(
                partner_campaign_id=reopened.id or 0,
                campaign_id=reopened.campaign_id,
                brand_id=reopened.brand_id,
                region_id=reopened.region_id,
                partner_id=reopened.partner_id,
                kind=TaskKind.schedule,
                open=False,
            )
        )
        s.commit()
        send_by = s.get(Campaign, approved.campaign_id).send_by  # type: ignore[union-attr]
    migration = _migration()
    with demo.begin() as conn:
        assert migration.open_schedule_tasks(conn) == 2
    tasks = _schedule_tasks(demo)
    assert set(tasks) == {approved.id, reopened.id}  # not the one still waiting for approval
    assert tasks[approved.id or 0].open and tasks[reopened.id or 0].open
    assert tasks[approved.id or 0].due_at == send_by
    with demo.begin() as conn:  # run again (a downgrade and upgrade): nothing doubles
        assert migration.open_schedule_tasks(conn) == 0
    assert len(_schedule_tasks(demo)) == 2 and waiting.id not in _schedule_tasks(demo)
