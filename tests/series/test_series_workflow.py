"""Three monthly occurrences of a series on the time-skipping server (real activities, real
database), each started as the Schedule's action would start it, with its scheduled time: the
first is approved by the GM, who stands by it; the paused month is skipped; the second goes
ahead on the standing approval (its values carried over, the open day moved along); the third,
whose headline the partner changed, asks the GM again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from domain.workflow_ids import series_occurrence_workflow_id
from models.audit import AuditEvent
from models.campaigns import ApprovalTask, Campaign, PartnerCampaign
from models.org import Partner, User
from models.series import CampaignSeries, SeriesOccurrence
from models.series_io import OccurrenceOutcome, SeriesOccurrenceInput
from services.accounts import principal_for
from services.org import Actor
from services.series import store
from storage.local import LocalBlobStore
from tests.series.support import Login, make_series, running_app
from workflows.series_occurrence import SeriesOccurrenceWorkflow

EDITOR = "editor.amsterdam@northwind.example"
GM = "gm.amsterdam@northwind.example"
GM_BERLIN = "gm.berlin@northwind.example"
MARKETING = "marketing@northwind.example"
Record = Callable[[str, str], Awaitable[None]]


async def until(check: Callable[[], bool], what: str, seconds: float = 15) -> None:
    for _ in range(int(seconds * 20)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def amsterdam_pc(engine: Engine, campaign_id: int) -> PartnerCampaign:
    with Session(engine) as s:
        return s.exec(
            select(PartnerCampaign)
            .join(Partner, col(Partner.id) == col(PartnerCampaign.partner_id))
            .where(PartnerCampaign.campaign_id == campaign_id, Partner.slug == "amsterdam")
        ).one()


def open_tasks(engine: Engine, pcid: int) -> set[str]:
    with Session(engine) as s:
        return set(
            s.exec(
                select(ApprovalTask.kind).where(
                    ApprovalTask.partner_campaign_id == pcid, col(ApprovalTask.open)
                )
            )
        )


def audit(engine: Engine, pcid: int) -> list[tuple[str, str, str]]:
    """(action, actor id, the comment) of the partner campaign's events, in order."""
    with Session(engine) as s:
        rows = s.exec(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "partner_campaign")
            .where(AuditEvent.entity_id == str(pcid))
            .order_by(col(AuditEvent.id))
        ).all()
        return [(e.action, e.actor, e.comment or "") for e in rows]


def user_id(engine: Engine, email: str) -> str:
    with Session(engine) as s:
        return str(s.exec(select(User.id).where(User.email == email)).one())


async def occurrence(
    env: WorkflowEnvironment, queue: str, series_id: int, at: datetime
) -> OccurrenceOutcome:
    """What the Schedule's action does at `at`, started directly (no Schedules here). Time
    does not skip meanwhile: the earlier occurrences' windows must stay open."""
    wid = series_occurrence_workflow_id(series_id, at.date().isoformat())
    with env.auto_time_skipping_disabled():
        return await env.client.execute_workflow(
            SeriesOccurrenceWorkflow.run,
            SeriesOccurrenceInput(series_id=series_id, scheduled_at=at),
            id=wid,
            task_queue=queue,
            result_type=OccurrenceOutcome,
        )


def change_state(engine: Engine, series_id: int, action: str) -> None:
    """Pause or resume as the API does, without the Schedule (none on this server)."""
    with Session(engine) as s:
        series = s.get(CampaignSeries, series_id)
        user = s.exec(select(User).where(User.email == MARKETING)).one()
        assert series is not None
        getattr(store, action)(s, Actor(principal_for(s, user), "test"), series)
        s.commit()


async def put(api: Any, login: Login, who: str, pcid: int, values: dict[str, str]) -> None:
    resp = await api.put(
        f"/api/v1/partner-campaigns/{pcid}/content", json={"values": values}, headers=login(who)
    )
    assert resp.status_code == 200, resp.text


async def post(api: Any, login: Login, who: str, url: str, **body: Any) -> Any:
    return await api.post(url, json=body or None, headers=login(who))


async def test_three_monthly_occurrences_with_a_paused_month_and_standing_approval(
    settings: Settings,
    demo: Engine,
    workflow_env: WorkflowEnvironment,
    blob_store: LocalBlobStore,
    checkpoint_store: LocalBlobStore,
    login: Login,
    record_history: Record,
) -> None:
    now = max(await workflow_env.get_current_time(), datetime.now(UTC))
    sid = make_series(demo)
    with Session(demo) as s:
        series = s.get(CampaignSeries, sid)
        assert series is not None
        months = [at.astimezone(UTC) for at in store.coming(series, 4, after=now)]

    async with running_app(
        settings, demo, workflow_env.client, blob_store, checkpoint_store
    ) as app:
        api, queue = app.api, app.settings.temporal_task_queue

        # Month 1: the partner writes, the GM approves and stands by it.
        first = await occurrence(workflow_env, queue, sid, months[0])
        assert first.state == "launched" and first.campaign_id is not None
        await until(lambda: amsterdam_pc(demo, first.campaign_id or 0).state == "drafting", "m1")
        pc1 = amsterdam_pc(demo, first.campaign_id).id or 0
        open_day = (months[0] + timedelta(days=8)).date()
        values = {"headline": "Club news", "event_date": open_day.isoformat()}
        await put(api, login, EDITOR, pc1, values)
        submitted = await post(api, login, EDITOR, f"/api/v1/partner-campaigns/{pc1}/submit")
        assert submitted.json()["state"] == "pending_approval", submitted.text
        grant_url = f"/api/v1/campaign-series/{sid}/standing-approvals"
        early = await post(api, login, GM, grant_url, partner_campaign_id=pc1)
        assert early.status_code == 422 and early.json()["errors"][0]["field"] == (
            "partner_campaign_id"
        )
        approved = await post(
            api, login, GM, f"/api/v1/partner-campaigns/{pc1}/decision", decision="approve"
        )
        assert approved.json()["state"] == "approved", approved.text
        assert (
            await post(api, login, EDITOR, grant_url, partner_campaign_id=pc1)
        ).status_code == 403
        assert (
            await post(api, login, GM_BERLIN, grant_url, partner_campaign_id=pc1)
        ).status_code == 404
        granted = await post(api, login, GM, grant_url, partner_campaign_id=pc1)
        assert granted.status_code == 201, granted.text

        # Month 2: paused, so skipped: no campaign.
        change_state(demo, sid, "pause")
        skipped = await occurrence(workflow_env, queue, sid, months[1])
        assert (skipped.state, skipped.campaign_id) == ("skipped", None)
        assert "paused" in skipped.reason
        change_state(demo, sid, "resume")

        # Month 3: the values carried over (the open day as far after the occurrence), the
        # partner submits them unchanged: the standing approval decides, the GM is not asked.
        second = await occurrence(workflow_env, queue, sid, months[2])
        assert second.state == "launched" and second.campaign_id is not None
        await until(lambda: amsterdam_pc(demo, second.campaign_id or 0).state == "drafting", "m3")
        pc2 = amsterdam_pc(demo, second.campaign_id).id or 0
        moved = open_day + (months[2].date() - months[0].date())
        carried = amsterdam_pc(demo, second.campaign_id).values
        assert carried == {"headline": "Club news", "event_date": moved.isoformat()}
        sent = await post(api, login, EDITOR, f"/api/v1/partner-campaigns/{pc2}/submit")
        assert sent.status_code == 200, sent.text
        assert sent.json()["state"] == "approved"
        # No GM task: only the editor's task to pick the send time.
        assert open_tasks(demo, pc2) == {"schedule"}
        approve = [a for a in audit(demo, pc2) if a[0] == "partner_campaign.approve"]
        assert len(approve) == 1 and approve[0][1] == user_id(demo, GM)
        assert "standing approval" in approve[0][2]

        # Month 4: the partner changed the headline: the GM is asked again, and told why.
        third = await occurrence(workflow_env, queue, sid, months[3])
        assert third.state == "launched" and third.campaign_id is not None
        await until(lambda: amsterdam_pc(demo, third.campaign_id or 0).state == "drafting", "m4")
        pc3 = amsterdam_pc(demo, third.campaign_id).id or 0
        changed = {**amsterdam_pc(demo, third.campaign_id).values, "headline": "New classes"}
        await put(api, login, EDITOR, pc3, changed)
        waiting = await post(api, login, EDITOR, f"/api/v1/partner-campaigns/{pc3}/submit")
        assert waiting.json()["state"] == "pending_approval", waiting.text
        assert open_tasks(demo, pc3) == {"approve"}
        refused = [a for a in audit(demo, pc3) if a[0].endswith("standing_approval_refused")]
        assert len(refused) == 1 and "content changed" in refused[0][2]

        # The same occurrence fired again makes no second campaign.
        again = await occurrence(workflow_env, queue, sid, months[2])
        assert again.campaign_id == second.campaign_id
        with Session(demo) as s:
            rows = s.exec(
                select(SeriesOccurrence.state).where(SeriesOccurrence.series_id == sid)
            ).all()
            assert sorted(rows) == ["launched", "launched", "launched", "skipped"]
            names = s.exec(select(Campaign.name).order_by(col(Campaign.id))).all()
        assert [n for n in names if n.startswith("Club news ")] == [
            f"Club news {m.date().isoformat()}" for m in (months[0], months[2], months[3])
        ]
        await record_history(
            series_occurrence_workflow_id(sid, months[0].date().isoformat()), "series_occurrence"
        )
        await record_history(amsterdam_pc(demo, second.campaign_id).workflow_id, "series_standing")
