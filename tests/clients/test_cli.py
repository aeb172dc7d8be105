"""The `brandrelay` CLI against the real app (demo data, no workflow service needed): login
checks the token and stores it 0600, env vars work without a file, lists print, watch draws
the campaign's progress until it is done or --timeout, and exit codes say what happened.
`sheets import` is also run against an in-memory fake of the campaign-sheets API, which needs
no workflow service (an upload without --wait, a missing file); the real routes and workflow
are in test_cli_workflow.py."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from brandrelay_client.cli import main
from core.settings import Settings
from models.campaigns import Campaign
from tests.clients.helpers import (
    CONTOSO_ADMIN,
    MARKETING,
    access_token,
    partner_id,
    published_version,
)
from tests.clients.test_client import campaign_body

URL = "http://testserver"


@pytest.fixture(autouse=True)
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "brandrelay" / "config.json"
    monkeypatch.setenv("BRANDRELAY_CONFIG", str(path))
    monkeypatch.delenv("BRANDRELAY_URL", raising=False)
    monkeypatch.delenv("BRANDRELAY_TOKEN", raising=False)
    return path


def run(http: httpx.Client, *argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(list(argv), http=http, sleep=lambda _s: None)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_login_checks_and_stores_the_token(
    app_client: TestClient,
    demo: Engine,
    settings: Settings,
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _, err = run(app_client, "login", "--url", URL, "--token", "brt_wrong", capsys=capsys)
    assert code == 1 and "401" in err
    assert not config_file.exists()  # a refused token is never stored

    code, _, err = run(app_client, "campaigns", "list", capsys=capsys)
    assert code == 2 and "not signed in" in err

    admin = access_token(demo, settings, "admin@northwind.example")
    created = app_client.post(
        "/api/v1/api-tokens",
        json={"user_id": _user_id(app_client, MARKETING, admin), "name": "cli"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    code, out, _ = run(app_client, "login", "--url", URL, "--token", token, capsys=capsys)
    assert code == 0 and f"as {MARKETING}" in out and "brand_marketer" in out
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert json.loads(config_file.read_text()) == {"url": URL, "token": token}

    app_client.post(
        "/api/v1/campaigns",
        json=dict(campaign_body(demo, "Stored login")),
        headers={"Authorization": f"Bearer {token}"},
    )
    code, out, _ = run(app_client, "campaigns", "list", capsys=capsys)
    assert code == 0 and "Stored login" in out and "draft" in out

    # The environment wins over the file: Contoso's admin sees none of Northwind's campaigns.
    monkeypatch.setenv("BRANDRELAY_URL", URL)
    monkeypatch.setenv("BRANDRELAY_TOKEN", access_token(demo, settings, CONTOSO_ADMIN))
    code, out, _ = run(app_client, "campaigns", "list", "--json", capsys=capsys)
    assert code == 0 and json.loads(out)["items"] == []


def _user_id(client: TestClient, email: str, admin: str) -> int:
    users = client.get(
        "/api/v1/users", params={"limit": 200}, headers={"Authorization": f"Bearer {admin}"}
    )
    return next(u["id"] for u in users.json()["items"] if u["email"] == email)


def test_watch_draws_progress_until_done_or_timeout(
    app_client: TestClient,
    demo: Engine,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = access_token(demo, settings, MARKETING)
    monkeypatch.setenv("BRANDRELAY_URL", URL)
    monkeypatch.setenv("BRANDRELAY_TOKEN", token)
    created = app_client.post(
        "/api/v1/campaigns",
        json=dict(campaign_body(demo, "Watched")),
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    from tests.campaigns.test_campaigns_api import add_partner_campaign

    add_partner_campaign(demo, created["id"], partner_id(demo, "amsterdam"), "sent")
    add_partner_campaign(demo, created["id"], partner_id(demo, "berlin"), "drafting")
    _set_state(demo, created["id"], "running")

    code, out, err = run(
        app_client, "campaigns", "watch", str(created["id"]), "--timeout", "0", capsys=capsys
    )
    assert code == 3 and "still running" in err
    assert "[###############...............] 1/2 running | drafting 1 sent 1" in out

    _set_state(demo, created["id"], "completed")
    code, out, _ = run(app_client, "campaigns", "watch", str(created["id"]), capsys=capsys)
    assert code == 0 and f"campaign {created['id']} completed" in out

    code, _, err = run(app_client, "campaigns", "watch", "999999999", capsys=capsys)
    assert code == 1 and "404" in err
    code, _, err = run(app_client, "campaigns", "watch", "nope", capsys=capsys)
    assert code == 2


def _set_state(engine: Engine, campaign_id: int, state: str) -> None:
    with Session(engine) as s:
        row = s.get(Campaign, campaign_id)
        assert row is not None
        row.state = state
        s.add(row)
        s.commit()


def test_launch_refusals_are_printed_from_the_problem(
    app_client: TestClient,
    demo: Engine,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A bad window is refused by the API with the field named; nothing is launched."""
    token = access_token(demo, settings, MARKETING)
    code, out, err = run(
        app_client,
        "--url",
        URL,
        "--token",
        token,
        "campaigns",
        "launch",
        "--template-version",
        str(published_version(demo)),
        "--name",
        "Backwards",
        "--all",
        "--personalise-until",
        "+7d",
        "--send-by",
        "+1d",
        capsys=capsys,
    )
    assert code == 1 and "422" in err and "send_by" in err and "launched" not in out
    code, _, err = run(app_client, "campaigns", "launch", "--name", "x", capsys=capsys)
    assert code == 2 and "required" in err


class FakeSheets:
    """The campaign-sheets API in memory: a file whose name starts
    with "bad" is invalid with three problems; others validate, then create two campaigns."""

    def __init__(self) -> None:
        self.sheets: dict[int, dict[str, Any]] = {}
        self.polls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST" and path == "/api/v1/campaign-sheets":
            body = request.read()
            name = body.split(b'filename="')[1].split(b'"')[0].decode()
            for sheet in self.sheets.values():
                if sheet["filename"] == name:
                    return httpx.Response(200, json=sheet)
            sheet_id = len(self.sheets) + 1
            self.sheets[sheet_id] = {
                "id": sheet_id,
                "filename": name,
                "sha256": "0" * 64,
                "state": "validating",
                "rows_total": 2,
                "rows_done": 0,
                "problems": [],
                "campaign_ids": [],
                "workflow_id": f"campaign-sheet-{sheet_id}",
                "created_at": "2030-01-01T00:00:00Z",
                "updated_at": "2030-01-01T00:00:00Z",
            }
            return httpx.Response(202, json=self.sheets[sheet_id])
        sheet = self.sheets[int(path.split("/")[4])]
        if path.endswith("/confirm"):
            if sheet["state"] != "ready":
                return httpx.Response(
                    409,
                    json={
                        "title": "Not ready",
                        "status": 409,
                        "detail": f"the sheet is {sheet['state']}",
                    },
                )
            sheet["state"] = "creating"
            return httpx.Response(202, json=sheet)
        self.polls += 1
        if sheet["state"] == "validating":
            if sheet["filename"].startswith("bad"):
                sheet["state"] = "invalid"
                sheet["problems"] = [
                    {"sheet": "Campaigns", "row": r, "column": c, "message": m}
                    for r, c, m in [
                        (3, "B", "unknown template"),
                        (7, "D", "unknown partner code"),
                        (9, "F", "send date outside the window"),
                    ]
                ]
            else:
                sheet["state"] = "ready"
        elif sheet["state"] == "creating":
            sheet["rows_done"] += 1
            if sheet["rows_done"] == sheet["rows_total"]:
                sheet["state"], sheet["campaign_ids"] = "completed", [41, 42]
        return httpx.Response(200, json=sheet)


def test_sheets_import_against_the_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeSheets()
    http = httpx.Client(base_url="http://api", transport=httpx.MockTransport(fake))
    good, bad = tmp_path / "plan-2031.csv", tmp_path / "bad-plan.xlsx"
    good.write_text("template,name\nOpen day,Spring\n")
    bad.write_bytes(b"PK\x03\x04 not really a workbook")
    auth = ["--url", "http://api", "--token", "t"]

    code, out, _ = run(http, *auth, "sheets", "import", str(bad), "--wait", capsys=capsys)
    assert code == 1
    assert "3 problem(s)" in out and "Campaigns row 7 column D: unknown partner code" in out

    code, out, _ = run(http, *auth, "sheets", "import", str(good), capsys=capsys)
    assert code == 0 and "validating" in out  # no --wait: uploaded, not confirmed
    code, out, _ = run(
        http, *auth, "sheets", "import", str(good), "--confirm", "--wait", capsys=capsys
    )
    assert code == 0 and "uploaded before" in out
    assert "confirmed" in out and "completed, 2/2" in out and "campaigns: 41, 42" in out

    code, _, err = run(
        http, *auth, "sheets", "import", str(tmp_path / "missing.csv"), capsys=capsys
    )
    assert code == 2 and "no such file" in err
