"""`brandrelay campaigns launch`, `tasks list` and `tasks decide` against the app with its
workflows running (time-skipping server, in-process worker, real activities). The CLI is
synchronous, so it runs in a thread and reaches the app on the test's event loop."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from brandrelay_client.cli import main
from core.settings import Settings
from models.campaigns import ApprovalTask, Campaign
from tests.campaign_sheets.sheets import open_day_label, plan_rows, xlsx
from tests.campaigns.test_campaign_workflows import (
    CLOCK,
    partner_campaign,
    server_clock,  # noqa: F401 - autouse: windows follow the workflow server's clock
    states,
    submit_content,
    until,
)
from tests.clients.helpers import (
    EDITOR_AMS,
    GM_AMS,
    GM_BERLIN,
    MARKETING,
    LoopTransport,
    access_token,
    published_version,
    region_id,
)


async def cli(
    api: httpx.AsyncClient, demo: Engine, settings: Settings, who: str, *argv: str
) -> tuple[int, str, str]:
    token = access_token(demo, settings, who)
    http = httpx.Client(
        base_url="http://test", transport=LoopTransport(api, asyncio.get_running_loop())
    )
    args = ["--url", "http://test", "--token", token, *argv]
    return await asyncio.to_thread(main, args, http=http, sleep=lambda _s: None)


async def test_launch_then_decide_from_the_command_line(
    app_with_worker: httpx.AsyncClient,
    demo: Engine,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = app_with_worker
    launch = [
        "campaigns", "launch", "--name", "CLI open day",
        "--template-version", str(published_version(demo)),
        "--regions", str(region_id(demo, "North")),
        "--personalise-until", (CLOCK[0] + timedelta(days=3)).isoformat(),
        "--send-by", (CLOCK[0] + timedelta(days=10)).isoformat(),
        "--idempotency-key", "cli-open-day-1",
    ]  # fmt: skip
    assert await cli(api, demo, settings, MARKETING, *launch) == 0
    out = capsys.readouterr().out
    assert "launched: running, 3 partner campaigns" in out, out
    cid = int(re.search(r"campaign (\d+) 'CLI open day'", out).group(1))  # type: ignore[union-attr]

    # The same key again (a retry after a lost answer): the same campaign, launched once.
    assert await cli(api, demo, settings, MARKETING, *launch) == 0
    assert f"campaign {cid} 'CLI open day' (running)" in capsys.readouterr().out
    with Session(demo) as s:
        assert len(s.exec(select(Campaign).where(Campaign.name == "CLI open day")).all()) == 1

    await until(lambda: set(states(demo, cid).values()) == {"drafting"}, "partners drafting")
    pcid = partner_campaign(demo, cid, "amsterdam").id or 0
    login = _headers(demo, settings)
    await submit_content(api, login, EDITOR_AMS, pcid)
    task = _open_approval(demo, pcid)

    assert await cli(api, demo, settings, GM_AMS, "tasks", "list") == 0
    listing = capsys.readouterr().out
    assert re.search(
        rf"^{task}\s+approve .*CLI open day\s+Northwind Fitness Amsterdam", listing, re.M
    )

    # Berlin's GM has no such task: the same answer as a task that does not exist.
    decide = ["tasks", "decide", str(task), "--approve", "--comment", "Looks good"]
    assert await cli(api, demo, settings, GM_BERLIN, *decide) == 1
    assert "not open in your inbox" in capsys.readouterr().err
    assert await cli(api, demo, settings, GM_AMS, *decide) == 0
    assert (
        f"partner campaign {pcid} (Northwind Fitness Amsterdam) is approved"
        in capsys.readouterr().out
    )
    assert partner_campaign(demo, cid, "amsterdam").state == "approved"
    assert await cli(api, demo, settings, GM_AMS, *decide) == 1  # decided: no longer open


def _open_approval(engine: Engine, pcid: int) -> int:
    with Session(engine) as s:
        return int(
            s.exec(
                select(ApprovalTask.id).where(
                    ApprovalTask.partner_campaign_id == pcid,
                    ApprovalTask.kind == "approve",
                    col(ApprovalTask.open),
                )
            ).one()
            or 0
        )


def _headers(engine: Engine, settings: Settings) -> Any:
    return lambda email: {"Authorization": f"Bearer {access_token(engine, settings, email)}"}


async def test_sheets_import_against_the_real_routes(
    app_with_worker: httpx.AsyncClient,
    demo: Engine,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """`brandrelay sheets import --confirm --wait` creates and launches a plan's campaigns; the
    same file again is reported as seen and creates nothing; a bad row is named by row and
    column with exit 1."""
    label = open_day_label(demo)
    plan = tmp_path / "plan.xlsx"
    plan.write_bytes(xlsx(plan_rows(label, 3, tag="cli ")))
    token = access_token(demo, settings, MARKETING)
    http = httpx.Client(
        base_url="http://test",
        transport=LoopTransport(app_with_worker, asyncio.get_running_loop()),
    )
    args = ["--url", "http://test", "--token", token, "sheets", "import"]
    wait = ["--confirm", "--wait", "--interval", "0.05", "--timeout", "60"]

    def run(*argv: str) -> int:
        return main([*args, *argv], http=http, sleep=time.sleep)

    assert await asyncio.to_thread(run, str(plan), *wait) == 0
    out = capsys.readouterr().out
    assert "confirmed: 3 rows" in out and "completed, 3/3" in out, out
    with Session(demo) as s:
        made = s.exec(select(Campaign).where(col(Campaign.name).startswith("Plan cli "))).all()
    assert sorted(c.name for c in made) == ["Plan cli 1", "Plan cli 2", "Plan cli 3"]

    assert await asyncio.to_thread(run, str(plan), *wait) == 0
    assert "(this file was uploaded before)" in capsys.readouterr().out
    with Session(demo) as s:
        again = s.exec(select(Campaign).where(col(Campaign.name).startswith("Plan cli "))).all()
    assert len(again) == 3

    rows = plan_rows(label, 2, tag="bad ")
    rows[1][2] = "atlantis"  # no such partner: row 3 of the sheet, column partners
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx(rows))
    assert await asyncio.to_thread(run, str(bad), *wait) == 1
    out = capsys.readouterr().out
    assert re.search(r"row 3 column partners: .*atlantis", out), out
    with Session(demo) as s:
        assert not s.exec(select(Campaign).where(col(Campaign.name).startswith("Plan bad "))).all()
