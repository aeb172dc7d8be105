"""The portal as a browser test serves it: on a free port of its own, signed asset URLs
pointing at that port, and task queues of its own on the shared dev server (so a worker of
another test never takes its tasks)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.org import User
from storage.local import LocalBlobStore
from tests.free_ports import free_port


@dataclass(frozen=True)
class Served:
    app: FastAPI
    port: int
    base: str  # http://127.0.0.1:<port>
    settings: Settings  # what a worker for this portal must run with (its task queues)


def portal_with_queues(
    settings: Settings, demo: Engine, client: Client, tmp_data: Path, name: str
) -> Served:
    """The app for a browser test whose worker runs on the dev server's `client`."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    queue = f"{name}-{uuid.uuid4().hex[:8]}"
    local = settings.model_copy(
        update={
            "temporal_task_queue": queue,
            "temporal_delivery_task_queue": f"{queue}-delivery",
            "temporal_documents_task_queue": f"{queue}-documents",
            "public_base_url": base,
        }
    )
    store = LocalBlobStore(tmp_data / "assets", settings.secret_key.get_secret_value(), base)
    app = create_app(
        local, engine=demo, temporal=LazyTemporalClient(local, client), blob_store=store
    )
    return Served(app, port, base, local)


def read_in_english(demo: Engine, email_like: str) -> None:
    """The people whose email matches (SQL LIKE) read the English source text: a browser test
    checks layout and flow against it; their partner's language is tested elsewhere."""
    with Session(demo) as s:
        for person in s.exec(select(User).where(col(User.email).like(email_like))).all():
            person.locale = "en"
            s.add(person)
        s.commit()
