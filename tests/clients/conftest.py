"""Fixtures of the client and CLI tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from storage.local import LocalBlobStore
from tests.free_ports import nowhere


@pytest.fixture
def app_client(
    settings: Settings,
    demo: Engine,
    blob_store: LocalBlobStore,
    checkpoint_store: LocalBlobStore,
) -> Iterator[TestClient]:
    """The app on the demo data with Temporal unreachable (launching answers 503)."""
    down = settings.model_copy(update={"temporal_address": nowhere()})
    app = create_app(
        down,
        engine=demo,
        temporal=LazyTemporalClient(down),
        blob_store=blob_store,
        checkpoint_store=checkpoint_store,
    )
    with TestClient(app) as client:
        yield client
