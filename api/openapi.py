"""The OpenAPI document names every answer a route really gives, errors included.

FastAPI documents the success and a 422 of its own shape; the API answers errors as
application/problem+json (api/problems.py) with more codes than that. Rather than repeat the
same list on ~100 routes, the document is completed here from what each operation is: every
route can meet a database that is down (503); guarded routes answer 401, 403 and 404 (an
object the request names is outside the caller's reach); routes with path parameters 404,
and public ones among them 403 (their token or signature is checked); routes that take input
422; routes with a body 400 (unreadable) and 413 (too large); routes that change something
409. Pages, files and previews answer their errors as a page or plain text (invalid input as
problem+json). The API fuzz test holds the routes to this document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

PROBLEM_JSON = "application/problem+json"
CHANGES = frozenset({"post", "put", "patch", "delete"})
TITLES = {
    400: "The body cannot be read",
    401: "Not signed in, or the token is no longer valid",
    403: "Signed in, but the roles do not allow it",
    404: "Not found, or outside the caller's reach",
    409: "The object's state does not allow it now",
    413: "The body is larger than the route accepts",
    422: "Invalid input: `errors` names each field",
    503: "The database or the workflow service is not reachable: nothing was changed",
}


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of the API is answered."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = Field(None, description="one entry per invalid field")


def _codes(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    codes = {503}
    if operation.get("security"):  # the bearer scheme: guarded routes only
        codes |= {401, 403, 404}  # 404: an object it names is outside the caller's reach
    elif "{" in path:  # public routes with a token or key in the path check its signature
        codes.add(403)
    params = operation.get("parameters", [])
    if any(p.get("in") == "path" for p in params) or "{" in path:
        codes.add(404)
    if params or "requestBody" in operation:
        codes.add(422)
    if "requestBody" in operation or method in CHANGES:
        codes |= {400, 413}
    if method in CHANGES:
        codes.add(409)
    return codes


def _answers_json(operation: dict[str, Any]) -> bool:
    """Routes whose success is JSON (or nothing) answer errors as problem+json; pages, files
    and previews answer a page or plain text, and problem+json for invalid input."""
    ok = operation.get("responses", {}).get("200", {}).get("content")
    return not ok or "application/json" in ok


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Add the error answers to every operation of `document` (in place) and return it."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schemas["Problem"].pop("$defs", {}))
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    page = {
        **problem,
        "text/html": {"schema": {"type": "string"}},
        "text/plain": {"schema": {"type": "string"}},
    }
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            content = problem if _answers_json(operation) else page
            for code in sorted(_codes(path, method, operation)):
                answer = operation["responses"].setdefault(str(code), {})
                answer["description"] = answer.get("description") or TITLES[code]
                if code == 422 or "content" not in answer:
                    answer["content"] = content
    return document


def install(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (and /docs)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
