"""Application factory: `uvicorn api.app:create_app --factory`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import Engine

from api import openapi, problems
from api.body_limit import BodyLimit, allowances, bearer_authenticator
from api.portal import PORTAL_ROUTERS
from api.request_id import RequestId
from api.routers import ROUTERS
from core import audit_keys
from core.db import make_engine
from core.logging import configure_logging
from core.settings import Settings, get_settings
from core.temporal import LazyTemporalClient
from mail.sns_http import CertificateCache
from services.engagement.events import EventWriter
from storage.base import BlobStore, WriteOnceStore
from storage.factory import make_blob_store, make_checkpoint_store

log = logging.getLogger(__name__)


def operation_id(route: APIRoute) -> str:
    """The OpenAPI operationId is the route function's name: stable across path changes and
    the method name of the generated client (clients/python), so names are unique app-wide."""
    return route.endpoint.__name__


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    temporal: LazyTemporalClient | None = None,
    blob_store: BlobStore | None = None,
    checkpoint_store: WriteOnceStore | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    audit_keys.install(audit_keys.AuditKeys.from_settings(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        app.state.engine = engine or make_engine(settings.resolved_database_url)
        app.state.temporal = temporal or LazyTemporalClient(settings)
        app.state.blob_store = blob_store or make_blob_store(settings)
        app.state.checkpoint_store = checkpoint_store or make_checkpoint_store(settings)
        app.state.event_writer = EventWriter(
            app.state.engine,
            queue_size=settings.tracking_queue_size,
            batch_size=settings.tracking_batch_size,
        )
        app.state.event_writer.start()
        log.info("api ready on %s (env %s)", settings.public_base_url, settings.app_env.value)
        yield
        app.state.event_writer.stop()
        if own_engine:
            app.state.engine.dispose()

    app = FastAPI(
        title="Brandrelay API",
        version="0.1.0",
        description="Distributed marketing: HQ templates, partner personalisation, GM approval.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.sns_certificates = CertificateCache()  # the SES feedback webhook's certificates
    problems.install(app)
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        allowances=allowances(settings),
        authenticate=bearer_authenticator(settings),
    )

    app.add_middleware(RequestId)
    for router in [*ROUTERS, *PORTAL_ROUTERS]:
        app.include_router(router)
    openapi.install(app)
    return app
