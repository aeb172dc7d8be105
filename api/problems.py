"""Errors as application/problem+json (RFC 9457), each naming the field or resource at fault."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from content.render import RenderError
from core.errors import Problem
from core.temporal import SERVICE_DOWN
from services.previews import TemplateRefused

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _message(error: dict[str, Any]) -> str:
    """Pydantic prefixes our validators' words with "Value error, "; the field says enough."""
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie", "form"}:
        parts = parts[1:] or parts
    return ".".join(parts)


INT64 = range(-(2**63), 2**63)


def _big_ints(value: Any, where: str) -> Iterator[str]:
    """Dotted paths of integers in a JSON value that 64 bits cannot hold."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if value not in INT64:
            yield where
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _big_ints(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _big_ints(item, f"{where}.{i}" if where else str(i))


def _int_text(text: str) -> int | None:
    stripped = text.strip()
    if stripped.lstrip("+-").isdigit():
        return int(stripped)
    return None


async def out_of_range_input(request: Request) -> tuple[str, str, str] | None:
    """(where, name, value) of the first path, query or JSON body value beyond 64 bits."""
    for name, raw in request.path_params.items():
        number = _int_text(str(raw))
        if number is not None and number not in INT64:
            return "path", name.removesuffix("_id").replace("_", " "), str(raw)
    for name, raw in request.query_params.multi_items():
        number = _int_text(raw)
        if number is not None and number not in INT64:
            return "query", name, raw
    try:
        body = json.loads(await request.body() or b"null")
    except (ValueError, RuntimeError):
        return None
    for where in _big_ints(body, ""):
        return "body", where, ""
    return None


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc.status, exc.title, exc.detail, exc.errors, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field_name(e.get("loc", ())), "message": _message(e)} for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(request, 422, "Invalid input", detail, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return problem_response(
            request, exc.status_code, title, detail, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(RenderError)
    async def _render_refused(request: Request, exc: RenderError) -> JSONResponse:
        """A template refused on a path that did not turn it into a Problem itself."""
        return await _problem(request, TemplateRefused(exc))

    async def _temporal_down(request: Request, exc: Exception) -> JSONResponse:
        """The one place the workflow service being unreachable (or failing a call the route
        did not expect to fail) becomes an answer: nothing was changed, try again."""
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return _unavailable(request, "Workflow service", "The workflow service is not reachable")

    for down in SERVICE_DOWN:
        app.add_exception_handler(down, _temporal_down)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
        """A number the database cannot hold (beyond 64 bits): the object named by such an id
        cannot exist (404); a query or body value is the caller's mistake (422). Anything
        else the database refuses as data is a 422 too, never a 500."""
        found = await out_of_range_input(request)
        if found is not None and found[0] == "path":
            return problem_response(request, 404, "Not found", f"{found[1]} {found[2]} not found")
        field = found[1] if found else "body"
        message = f"must be between {-(2**63)} and {2**63 - 1}" if found else "is out of range"
        return problem_response(
            request,
            422,
            "Invalid input",
            f"{field}: {message}",
            [{"field": field, "message": message}],
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        """A uniqueness or reference the service did not check first: still the caller's
        conflict, not the server's failure (services name the field where they can)."""
        log.warning("integrity error on %s %s: %s", request.method, request.url.path, exc.orig)
        return problem_response(
            request,
            409,
            "Conflict",
            "The change conflicts with existing data; nothing was changed.",
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PoolTimeoutError)
    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return _unavailable(request, "Database", "The database is not reachable or busy")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, 500, "Internal error", "An unexpected error occurred")


def _unavailable(request: Request, what: str, why: str) -> JSONResponse:
    """A dependency is down: nothing was changed, and the client may simply try again."""
    return problem_response(
        request,
        503,
        f"{what} unavailable",
        f"{why}; nothing was changed. Try again shortly.",
        headers={"Retry-After": "5"},
    )
