"""Probes: /health says the process is alive, /ready that its dependencies answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import EngineDep, SettingsDep
from api.security import PublicRoute
from core.db import ping, write_probe
from core.settings import EmailTransport
from mail.transport import check_outbox_writable, outbox_dir

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness probe")
def read_health(_: PublicRoute) -> dict[str, str]:
    return {"status": "ok"}


async def _check(probe: Callable[[], Awaitable[object]], label: str) -> str:
    try:
        await asyncio.wait_for(probe(), timeout=5)
    except Exception as err:
        return f"{label}: {type(err).__name__}: {err}"[:300]
    return "ok"


@router.get(
    "/ready",
    responses={503: {"description": "A dependency is down or not writable"}},
    summary="Readiness probe (database, Temporal, outbox)",
)
async def read_readiness(
    _: PublicRoute, request: Request, engine: EngineDep, settings: SettingsDep
) -> JSONResponse:
    """The database answers and takes a write, the Temporal frontend answers, and (with the
    embedded outbox transport) a message file can be written: what a send needs."""
    checks: dict[str, Any] = {
        "database": await _check(lambda: asyncio.to_thread(ping, engine), "down"),
    }
    if checks["database"] == "ok":
        probe = await _check(lambda: asyncio.to_thread(write_probe, engine), "cannot write")
        checks["database"] = probe
    checks["temporal"] = await _check(request.app.state.temporal.check, "down")
    if settings.email_transport == EmailTransport.outbox:
        directory = outbox_dir(settings)
        checks["outbox"] = await _check(
            lambda: asyncio.to_thread(check_outbox_writable, directory), "cannot write"
        )
    down = [name for name, state in checks.items() if state != "ok"]
    if down:
        return JSONResponse(
            {
                "type": "about:blank",
                "title": "Not ready",
                "status": 503,
                "detail": f"Not ready: {', '.join(down)}",
                "checks": checks,
            },
            status_code=503,
            media_type="application/problem+json",
        )
    return JSONResponse({"status": "ready", "checks": checks})
