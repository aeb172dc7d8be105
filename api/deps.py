"""Request-scoped dependencies as Annotated aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from core.client_address import client_address
from core.settings import Settings
from core.temporal import LazyTemporalClient
from storage.base import BlobStore, WriteOnceStore


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    with Session(get_engine(request), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def get_temporal(request: Request) -> LazyTemporalClient:
    """The lazy holder, not a connected client: routes connect only once the caller's access
    is checked, so a refusal or a 404 never waits on (or fails with) the Temporal server."""
    holder: LazyTemporalClient = request.app.state.temporal
    return holder


def get_blob_store(request: Request) -> BlobStore:
    store: BlobStore = request.app.state.blob_store
    return store


def get_checkpoint_store(request: Request) -> WriteOnceStore:
    store: WriteOnceStore = request.app.state.checkpoint_store
    return store


def get_request_id(request: Request) -> str:
    rid: str = request.state.request_id
    return rid


def get_client_address(request: Request) -> str:
    """The address sign-in attempts count against (core.client_address, TRUSTED_PROXY_HOPS)."""
    settings: Settings = request.app.state.settings
    return client_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        settings.trusted_proxy_hops,
    )


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
TemporalDep = Annotated[LazyTemporalClient, Depends(get_temporal)]
BlobStoreDep = Annotated[BlobStore, Depends(get_blob_store)]
CheckpointStoreDep = Annotated[WriteOnceStore, Depends(get_checkpoint_store)]
RequestIdDep = Annotated[str, Depends(get_request_id)]
ClientAddressDep = Annotated[str, Depends(get_client_address)]
