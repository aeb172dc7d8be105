"""The OpenAPI document is the contract of the generated client (clients/python): every
operation has a stable operationId (the route function's name, unique app-wide), an explicit
summary and a tag, and the main write routes carry request examples that the API accepts."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from api.app import create_app, operation_id
from api.routers.campaign_actions import ExtendBody
from api.routers.partner_campaign_actions import PartnerCampaignDecision
from core.settings import Settings
from models.campaign_schemas import CampaignCreate
from models.schemas import ApiTokenCreate

EXAMPLES = {  # operationId -> the body model its examples must satisfy
    "create_campaign": CampaignCreate,
    "decide_partner_campaign": PartnerCampaignDecision,
    "create_api_token": ApiTokenCreate,
    "extend_campaign": ExtendBody,
}


def documented_routes(app: FastAPI) -> dict[tuple[str, str], APIRoute]:
    """(method, path) -> route, for the routes the document shows."""
    out = {}
    for ctx in iter_route_contexts(app.routes):
        route = ctx.route
        if isinstance(route, APIRoute) and route.include_in_schema:
            out.update({(m.lower(), route.path_format): route for m in route.methods})
    return out


def document_problems(app: FastAPI) -> list[str]:
    document = app.openapi()
    routes = documented_routes(app)
    problems = []
    for path, item in document["paths"].items():
        for method, op in item.items():
            route = routes[(method, path)]
            if not route.summary:  # FastAPI would make one up from the function's name
                problems.append(f"{method.upper()} {path}: no explicit summary=")
            if not op.get("tags"):
                problems.append(f"{method.upper()} {path}: no tag")
            if op["operationId"] != route.endpoint.__name__:
                problems.append(f"{method.upper()} {path}: operationId is not the function's")
    ids = Counter(op["operationId"] for item in document["paths"].values() for op in item.values())
    problems += [f"operationId {name} used {n} times" for name, n in ids.items() if n > 1]
    return problems


def _examples(operation: dict[str, Any], schemas: dict[str, Any]) -> list[Any]:
    media = next(iter(operation["requestBody"]["content"].values()))
    schema = media["schema"]
    if "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
    found = list(schema.get("examples", []))
    if "example" in media:
        found.append(media["example"])
    return found


def test_every_operation_is_named_summarised_and_tagged(settings: Settings) -> None:
    app = create_app(settings)
    assert document_problems(app) == []
    document = app.openapi()
    schemas = document["components"]["schemas"]
    by_id = {op["operationId"]: op for item in document["paths"].values() for op in item.values()}
    for name, model in EXAMPLES.items():
        examples = _examples(by_id[name], schemas)
        assert examples, name
        for example in examples:
            model.model_validate(example)  # the documented example is a valid request
    assert _examples(by_id["create_access_token"], schemas)


def test_duplicates_and_missing_summaries_are_caught() -> None:
    """The check above can fail: two routes whose functions share a name, one untagged."""
    app = FastAPI(generate_unique_id_function=operation_id)
    first, second = APIRouter(tags=["a"]), APIRouter()

    @first.get("/one", summary="One")
    def read_thing() -> None: ...

    @second.get("/two")  # no summary, no tag, same function name
    def read_thing() -> None:  # type: ignore[no-redef]  # noqa: F811
        ...

    app.include_router(first)
    app.include_router(second)
    assert document_problems(app) == [
        "GET /two: no explicit summary=",
        "GET /two: no tag",
        "operationId read_thing used 2 times",
    ]
