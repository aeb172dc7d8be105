"""Series fixtures: the API with in-process workers on a Temporal server (as `app_with_worker`
does), handing out the task queue they serve so a test can start an occurrence as the
Schedule's action would; and a series made in the database (no Schedule)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.worker import Worker

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.org import Partner, User
from models.series_schemas import SeriesCreate
from models.templates import Template, TemplateVersion
from registry import queues
from services.accounts import principal_for
from services.org import Actor
from services.series import store
from storage.local import LocalBlobStore

MARKETING = "marketing@northwind.example"
Login = Callable[[str], dict[str, str]]
MONTHLY = {"monthly": {"nth": 1, "weekday": "monday", "at": "09:00"}}


@dataclass
class Running:
    api: httpx.AsyncClient
    settings: Settings


@contextlib.asynccontextmanager
async def running_app(
    settings: Settings,
    engine: Engine,
    client: Client,
    blob_store: LocalBlobStore,
    checkpoint_store: LocalBlobStore,
) -> AsyncIterator[Running]:
    queue = f"series-{uuid.uuid4().hex[:10]}"
    local = settings.model_copy(
        update={
            "temporal_task_queue": queue,
            "temporal_delivery_task_queue": f"{queue}-delivery",
            "temporal_documents_task_queue": f"{queue}-documents",
        }
    )
    with ThreadPoolExecutor(8) as pool:
        async with contextlib.AsyncExitStack() as stack:
            for spec in queues(local, engine, checkpoint_store=checkpoint_store):
                if spec.empty:
                    continue
                worker = Worker(
                    client,
                    task_queue=spec.task_queue,
                    workflows=spec.workflows,
                    activities=spec.activities,
                    activity_executor=pool,
                )
                await stack.enter_async_context(worker)
            app = create_app(
                local,
                engine=engine,
                temporal=LazyTemporalClient(local, client),
                blob_store=blob_store,
                checkpoint_store=checkpoint_store,
            )
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                    yield Running(c, local)


def ids(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        template = s.exec(select(Template).where(Template.name == "Open day")).one()
        version = s.exec(
            select(TemplateVersion).where(
                TemplateVersion.template_id == template.id, TemplateVersion.state == "published"
            )
        ).one()
        amsterdam = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        return {"version": version.id or 0, "amsterdam": amsterdam.id or 0}


def series_body(engine: Engine, **overrides: Any) -> dict[str, Any]:
    known = ids(engine)
    body: dict[str, Any] = {
        "name": "Club news",
        "template_version_id": known["version"],
        "target": {"partners": [known["amsterdam"]]},
        "recurrence": MONTHLY,
        "timezone": "Europe/Amsterdam",
        "personalise_for": "P3D",
        "send_within": "P10D",
    }
    body.update(overrides)
    return body


def make_series(engine: Engine, **overrides: Any) -> int:
    """A series made as the API makes it, without its Schedule (the time-skipping server has
    no Schedules)."""
    body = SeriesCreate.model_validate(series_body(engine, **overrides))
    with Session(engine) as s:
        user = s.exec(select(User).where(User.email == MARKETING)).one()
        series = store.create_series(s, Actor(principal_for(s, user), "test"), body)
        s.commit()
        return series.id or 0
