"""Probes: /health says the process is alive, /ready that its dependencies answer."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import EngineDep
from api.security import PublicRoute
from core.db import ping

router = APIRouter(tags=["health"])


@router.get("/health")
def health(_: PublicRoute) -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "A dependency is down"}})
async def ready(_: PublicRoute, request: Request, engine: EngineDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        await asyncio.to_thread(ping, engine)
        checks["database"] = "ok"
    except Exception as err:
        checks["database"] = f"down: {type(err).__name__}: {err}"[:300]
    try:
        await asyncio.wait_for(request.app.state.temporal.check(), timeout=5)
        checks["temporal"] = "ok"
    except Exception as err:
        checks["temporal"] = f"down: {type(err).__name__}: {err}"[:300]
    down = [name for name, state in checks.items() if state != "ok"]
    if down:
        return JSONResponse(
            {
                "type": "about:blank",
                "title": "Not ready",
                "status": 503,
                "detail": f"Not reachable: {', '.join(down)}",
                "checks": checks,
            },
            status_code=503,
            media_type="application/problem+json",
        )
    return JSONResponse({"status": "ready", "checks": checks})
