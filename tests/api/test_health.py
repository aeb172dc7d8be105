"""Probes, OpenAPI and the problem+json error shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.db import make_engine
from core.settings import Settings
from core.temporal import LazyTemporalClient
from tests.free_ports import nowhere


def test_health_is_public(client: TestClient) -> None:
    resp = client.get("/health")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


def test_ready_names_temporal_when_it_is_down(settings: Settings, db: Engine) -> None:
    down = settings.model_copy(update={"temporal_address": nowhere()})
    with TestClient(create_app(down, engine=db, temporal=LazyTemporalClient(down))) as c:
        resp = c.get("/ready")
    assert resp.status_code == 503
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["temporal"].startswith("down")
    assert body["detail"] == "Not ready: temporal"


def test_ready_names_the_database_when_it_is_down(settings: Settings, tmp_path: object) -> None:
    broken = make_engine(f"postgresql+psycopg://nobody@{nowhere()}/none")
    down = settings.model_copy(update={"temporal_address": nowhere()})
    with TestClient(create_app(down, engine=broken, temporal=LazyTemporalClient(down))) as c:
        body = c.get("/ready").json()
    assert body["checks"]["database"].startswith("down")
    assert "database" in body["detail"]


@pytest.mark.e2e
async def test_ready_with_dev_server(
    settings: Settings, db: Engine, dev_env: WorkflowEnvironment
) -> None:
    holder = LazyTemporalClient(settings, dev_env.client)
    with TestClient(create_app(settings, engine=db, temporal=holder)) as c:
        resp = c.get("/ready")
    assert resp.status_code == 200, resp.text
    assert resp.json()["checks"] == {"database": "ok", "temporal": "ok", "outbox": "ok"}


def _ready(settings: Settings, engine: Engine) -> dict:  # type: ignore[type-arg]
    down = settings.model_copy(update={"temporal_address": nowhere()})
    with TestClient(create_app(down, engine=engine, temporal=LazyTemporalClient(down))) as c:
        resp = c.get("/ready")
    assert resp.status_code == 503
    return dict(resp.json())


def test_ready_says_when_the_outbox_cannot_be_written(
    settings: Settings, db: Engine, tmp_path: Path
) -> None:
    broken = tmp_path / "data"
    broken.mkdir()
    (broken / "outbox").write_text("a file where the outbox directory should be")
    body = _ready(settings.model_copy(update={"data_dir": broken}), db)
    assert body["checks"]["outbox"].startswith("cannot write")
    assert "outbox" in body["detail"] and body["checks"]["database"] == "ok"
    fine = _ready(settings.model_copy(update={"data_dir": tmp_path / "fine"}), db)
    assert fine["checks"]["outbox"] == "ok"


def test_ready_says_when_the_database_takes_no_writes(settings: Settings, db: Engine) -> None:
    """Reads still work (the old probe said ok); a held write lock makes writes wait."""
    blocker = db.connect()
    try:
        if db.dialect.name == "sqlite":
            blocker.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            blocker.exec_driver_sql("BEGIN")
            blocker.exec_driver_sql("LOCK TABLE readinessprobe IN ACCESS EXCLUSIVE MODE")
        body = _ready(settings, db)
    finally:
        blocker.rollback()
        blocker.close()
    assert body["checks"]["database"].startswith("cannot write"), body


def test_openapi_and_docs(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/v1/auth/token" in spec["paths"]
    assert "/ready" in spec["paths"]


def test_unknown_path_is_problem_json(client: TestClient) -> None:
    resp = client.get("/api/v1/nothing-here")
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["instance"] == "/api/v1/nothing-here"


def test_validation_error_names_the_field(client: TestClient, login) -> None:  # type: ignore[no-untyped-def]
    resp = client.post(
        "/api/v1/regions", json={"name": ""}, headers=login("admin@northwind.example")
    )
    assert resp.status_code == 422
    body = resp.json()
    assert body["errors"][0]["field"] == "name"
    assert body["detail"].startswith("name:")


def test_request_id_is_echoed(client: TestClient) -> None:
    resp = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["X-Request-ID"] == "abc-123"
