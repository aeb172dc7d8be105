"""A series' Temporal Schedule on the dev server (the time-skipping server has none), through
the API: made with the recurrence's calendar in the series' zone, overlap SKIP and a short
catch-up window; paused and unpaused with the series; a manual trigger starts an occurrence
that launches its campaign; ending the series deletes the Schedule. The dev server is shared
by the session: everything made here is deleted or terminated before the test ends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import Client, ScheduleOverlapPolicy, ScheduleRange
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from domain.workflow_ids import campaign_workflow_id, series_schedule_id
from models.campaigns import PartnerCampaign
from models.series import SeriesOccurrence
from services.series import schedules
from storage.local import LocalBlobStore
from tests.series.support import MARKETING, Login, running_app, series_body


async def _terminate(client: Client, workflow_id: str) -> None:
    try:
        await client.get_workflow_handle(workflow_id).terminate("test cleanup")
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise


async def _launched(engine: Engine, series_id: int) -> SeriesOccurrence:
    for _ in range(600):
        with Session(engine) as s:
            row = s.exec(
                select(SeriesOccurrence).where(SeriesOccurrence.series_id == series_id)
            ).first()
            if row is not None:
                return row
        await asyncio.sleep(0.05)
    raise AssertionError("the triggered occurrence never came")


async def _partners_started(engine: Engine, campaign_id: int) -> list[str]:
    for _ in range(600):
        with Session(engine) as s:
            rows = s.exec(
                select(PartnerCampaign).where(PartnerCampaign.campaign_id == campaign_id)
            ).all()
        if rows and all(r.state != "invited" for r in rows):
            return [r.workflow_id for r in rows]
        await asyncio.sleep(0.05)
    raise AssertionError("the occurrence's partner workflows never started")


async def test_schedule_made_paused_triggered_and_deleted(
    settings: Settings,
    demo: Engine,
    dev_env: WorkflowEnvironment,
    blob_store: LocalBlobStore,
    checkpoint_store: LocalBlobStore,
    login: Login,
) -> None:
    client = dev_env.client
    headers = login(MARKETING)
    sid = 0
    started: list[str] = []
    async with running_app(settings, demo, client, blob_store, checkpoint_store) as app:
        api = app.api
        try:
            made = await api.post(
                "/api/v1/campaign-series", json=series_body(demo), headers=headers
            )
            assert made.status_code == 201, made.text
            sid = made.json()["id"]
            handle = client.get_schedule_handle(series_schedule_id(sid))
            described = await handle.describe()
            spec = described.schedule.spec
            assert spec.time_zone_name == "Europe/Amsterdam"
            calendar = spec.calendars[0]
            assert list(calendar.day_of_month) == [ScheduleRange(1, 7)]
            assert list(calendar.day_of_week) == [ScheduleRange(1, 1)]
            assert (list(calendar.hour), list(calendar.minute)) == (
                [ScheduleRange(9, 9)],
                [ScheduleRange(0, 0)],
            )
            policy = described.schedule.policy
            assert policy.overlap == ScheduleOverlapPolicy.SKIP
            assert policy.catchup_window == schedules.CATCHUP == timedelta(hours=12)
            action = described.schedule.action
            assert getattr(action, "workflow", None) == "SeriesOccurrenceWorkflow"
            assert getattr(action, "task_queue", None) == app.settings.temporal_task_queue
            # Temporal's next runs and the series page's agree (first Mondays, 09:00 local).
            ours = [datetime.fromisoformat(t) for t in made.json()["next_occurrences"]]
            theirs = list(described.info.next_action_times)
            assert len(theirs) >= 3
            assert [t.astimezone(UTC) for t in theirs[:3]] == [t.astimezone(UTC) for t in ours[:3]]
            local = [t.astimezone(ZoneInfo("Europe/Amsterdam")) for t in theirs[:3]]
            assert all(t.weekday() == 0 and t.day <= 7 and t.hour == 9 for t in local)

            paused = await api.post(f"/api/v1/campaign-series/{sid}/pause", headers=headers)
            assert paused.status_code == 200 and paused.json()["state"] == "paused"
            assert paused.json()["next_occurrences"] == []
            state = (await handle.describe()).schedule.state
            assert state.paused and "paused by marketing@" in (state.note or "")
            resumed = await api.post(f"/api/v1/campaign-series/{sid}/resume", headers=headers)
            assert resumed.json()["state"] == "active"
            assert not (await handle.describe()).schedule.state.paused

            await handle.trigger()
            occurrence = await _launched(demo, sid)
            assert occurrence.state == "launched" and occurrence.campaign_id is not None
            started = [campaign_workflow_id(occurrence.campaign_id)]
            started += await _partners_started(demo, occurrence.campaign_id)
            today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
            assert occurrence.occurs_on in (today, today - timedelta(days=1))
            read = (await api.get(f"/api/v1/campaign-series/{sid}", headers=headers)).json()
            assert [o["campaign_id"] for o in read["occurrences"]] == [occurrence.campaign_id]

            ended = await api.post(f"/api/v1/campaign-series/{sid}/end", headers=headers)
            assert ended.status_code == 200 and ended.json()["state"] == "ended"
            with pytest.raises(RPCError) as gone:
                await handle.describe()
            assert gone.value.status == RPCStatusCode.NOT_FOUND
        finally:
            for workflow_id in started:
                await _terminate(client, workflow_id)
            if sid:
                await schedules.delete(client, sid)
