"""Connecting to Temporal: one place for address, namespace, TLS/API key and start-up retries."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from core.settings import Settings
from domain import search_attributes

log = logging.getLogger(__name__)


class TemporalUnreachable(RuntimeError):
    """Raised when the Temporal frontend does not answer after every configured attempt."""


# What "the workflow service cannot serve this now" looks like to a caller: no connection, or
# a call the server failed. The API answers 503 (api/problems.py), pages say "try again".
SERVICE_DOWN: tuple[type[Exception], ...] = (TemporalUnreachable, RPCError)


def tls_config(settings: Settings) -> TLSConfig | bool:
    if not (settings.temporal_tls or settings.temporal_tls_cert or settings.temporal_api_key):
        return False
    return TLSConfig(
        server_root_ca_cert=settings.temporal_tls_ca.read_bytes()
        if settings.temporal_tls_ca
        else None,
        client_cert=settings.temporal_tls_cert.read_bytes() if settings.temporal_tls_cert else None,
        client_private_key=settings.temporal_tls_key.read_bytes()
        if settings.temporal_tls_key
        else None,
        domain=settings.temporal_tls_server_name,
    )


async def connect_once(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=tls_config(settings),
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
        data_converter=pydantic_data_converter,
    )


async def connect(settings: Settings, *, attempts: int | None = None) -> Client:
    """Connect, retrying while the server starts; raise TemporalUnreachable with a clear message."""
    total = attempts or settings.temporal_connect_attempts
    last_error: BaseException | None = None
    for attempt in range(1, total + 1):
        try:
            return await connect_once(settings)
        except (RuntimeError, RPCError, OSError) as err:
            last_error = err
            log.warning(
                "Temporal at %s (namespace %s) not reachable, attempt %d/%d: %s",
                settings.temporal_address,
                settings.temporal_namespace,
                attempt,
                total,
                err,
            )
            if attempt < total:
                await asyncio.sleep(settings.temporal_connect_backoff)
    raise TemporalUnreachable(
        f"Cannot reach the Temporal server at {settings.temporal_address} "
        f"(namespace {settings.temporal_namespace}) after {total} attempts: {last_error}. "
        "Start it with `make up` (dev server) or set TEMPORAL_ADDRESS to a running cluster."
    )


async def ensure_search_attributes(client: Client) -> None:
    """Register the custom search attributes; attributes that already exist are kept."""
    for key in search_attributes.ALL:
        request = AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD},
        )
        try:
            await client.operator_service.add_search_attributes(request)
        except RPCError as err:
            if err.status != RPCStatusCode.ALREADY_EXISTS:
                raise


class LazyTemporalClient:
    """The API's client: connects on first use and again after a failure, so the API starts
    (and /ready can say what is down) while the Temporal server is still starting."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def get(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                self._client = await connect(self._settings, attempts=1)
            return self._client

    async def check(self) -> None:
        """Raise if the frontend does not answer a health check."""
        client = await self.get()
        await client.service_client.check_health(timeout=timedelta(seconds=3))
