"""Time to market measured from real partner campaign workflows: a two-stage chain run on the
time-skipping server with scripted waits (different per region), whose cycle times the
projections write and whose medians the report then finds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from approvals.policy import Stage
from models.org import Region
from services.reporting.scope import ReportScope
from services.reporting.shapes import CycleStats, ReportQuery
from services.reporting.timing import time_to_market
from tests.approvals.test_chain_workflow import GM, REVIEWER, REVIEWERS, decide, make_policy
from tests.campaigns.test_campaign_workflows import (
    finish,
    launched,
    partner_campaign,
    server_clock,  # noqa: F401 - the autouse fixture: campaign windows follow the server's clock
    submit_content,
)

Login = Callable[[str], dict[str, str]]
H = 3600.0
# The real time the steps themselves take moves the server's clock a little too.
SLACK = 120.0


def _near(stats: CycleStats, median_hours: float, count: int) -> None:
    assert stats.count == count, stats
    assert stats.median_seconds is not None
    assert abs(stats.median_seconds - median_hours * H) < SLACK, stats


async def test_medians_per_region_and_stage_from_scripted_waits(
    app_with_worker: httpx.AsyncClient,
    login: Login,
    demo: Engine,
    workflow_env: WorkflowEnvironment,
) -> None:
    if not workflow_env.supports_time_skipping:
        pytest.skip("scripted waits need the time-skipping server")
    api = app_with_worker
    with Session(demo) as s:
        brand_id = s.exec(select(Region.brand_id).where(Region.name == "North")).one()
        regions = {
            r.name: r.id for r in s.exec(select(Region).where(Region.brand_id == brand_id)).all()
        }
    policy = make_policy(
        demo,
        "GM then brand",
        Stage(name="gm", approvers=[GM]),
        Stage(name="brand", approvers=[REVIEWERS]),
    )
    cid, ams = await launched(
        api,
        login,
        demo,
        approval_policy="GM then brand",
        approval_policy_id=policy,
        target={"regions": [regions["North"], regions["South"]]},
    )
    ber = partner_campaign(demo, cid, "berlin").id or 0
    mun = partner_campaign(demo, cid, "munich").id or 0

    async def wait(hours: float) -> None:
        await workflow_env.sleep(timedelta(hours=hours))

    try:
        # North: Amsterdam submits after 1h, its GM takes 2h, brand review 3h;
        # Berlin submits after 2h, its GM takes 4h, brand review 3h.
        # South: Munich submits after 10h, its GM takes 5h, brand review 1h.
        await wait(1)
        await submit_content(api, login, "editor.amsterdam@northwind.example", ams)  # 1h
        await wait(1)
        await submit_content(api, login, "editor.berlin@northwind.example", ber)  # 2h
        await wait(1)
        assert (await decide(api, login, "gm.amsterdam@northwind.example", ams)).status_code == 200
        await wait(3)
        assert (await decide(api, login, REVIEWER, ams)).json()["state"] == "approved"  # 6h
        assert (await decide(api, login, "gm.berlin@northwind.example", ber)).status_code == 200
        await wait(3)
        assert (await decide(api, login, REVIEWER, ber)).json()["state"] == "approved"  # 9h
        await wait(1)
        await submit_content(api, login, "editor.munich@northwind.example", mun)  # 10h
        await wait(5)
        assert (await decide(api, login, "gm.munich@northwind.example", mun)).status_code == 200
        await wait(1)
        assert (await decide(api, login, REVIEWER, mun)).json()["state"] == "approved"  # 16h
    finally:
        await finish(api, login, demo, cid)

    with Session(demo) as s:
        report = time_to_market(s, ReportScope(brand_id, True), ReportQuery(campaign_id=cid))
    sub = {r.label: r for r in report.to_submission}
    _near(sub["North"], 1.5, 2)
    _near(sub["South"], 10, 1)
    _near(sub["All"], 2, 3)
    appr = {r.label: r for r in report.to_approval}
    _near(appr["North"], 6, 2)  # 5h and 7h
    _near(appr["South"], 6, 1)
    _near(appr["All"], 6, 3)
    stages = {(r.stage, r.label): r for r in report.stages}
    _near(stages[("gm", "North")], 3, 2)  # 2h and 4h
    _near(stages[("gm", "South")], 5, 1)
    _near(stages[("gm", "All")], 4, 3)
    _near(stages[("brand", "North")], 3, 2)
    _near(stages[("brand", "South")], 1, 1)
    _near(stages[("brand", "All")], 3, 3)
    assert sorted(round(h) for h in report.approval_hours) == [5, 6, 7]
    assert report.escalations == 0
