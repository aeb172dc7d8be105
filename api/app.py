"""Application factory: `uvicorn api.app:create_app --factory`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from sqlalchemy import Engine

from api import problems
from api.body_limit import BodyLimit, allowances, bearer_authenticator
from api.portal import PORTAL_ROUTERS
from api.routers import ROUTERS
from core import audit_keys
from core.db import make_engine
from core.logging import configure_logging
from core.settings import Settings, get_settings
from core.temporal import LazyTemporalClient
from mail.sns_http import CertificateCache
from storage.base import BlobStore, WriteOnceStore
from storage.factory import make_blob_store, make_checkpoint_store

log = logging.getLogger(__name__)


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
        log.info("api ready on %s (env %s)", settings.public_base_url, settings.app_env.value)
        yield
        if own_engine:
            app.state.engine.dispose()

    app = FastAPI(
        title="Brandrelay API",
        version="0.1.0",
        description="Distributed marketing: HQ templates, partner personalisation, GM approval.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.sns_certificates = CertificateCache()  # the SES feedback webhook's certificates
    problems.install(app)
    # Inside the request-id middleware: its receive runs in a task group, which would wrap
    # the 413 raised while counting into an exception group (FastAPI then answers 400).
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        allowances=allowances(settings),
        authenticate=bearer_authenticator(settings),
    )

    @app.middleware("http")
    async def request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        rid = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        request.state.request_id = rid[:100]
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    for router in [*ROUTERS, *PORTAL_ROUTERS]:
        app.include_router(router)
    return app
