"""Fuzzing the API from its own OpenAPI document: schemathesis generates requests for every
operation (valid and invalid bodies, paths and queries) and sends them, in process, as a brand
marketer and as a partner editor. Every answer must be documented: no 500, a status code the
operation lists, and a body that matches the listed schema (problem+json for errors).

Bounded so it stays well under a minute (about 35 s on a 2-core machine): as HQ, the first
MAX_REQUESTS of schemathesis's coverage cases (boundary values, missing, malformed and
out-of-range fields) plus EXAMPLES generated ones per operation; as a partner editor, EXAMPLES
generated ones; no example database, a fixed seed. The demo data is seeded once for the
module, so one operation finds what another created. Temporal is unreachable here: actions
that need it must answer 503. Routes that end the caller's own sessions (sign-out, password
change) or pay argon2 per call (sign-in) are left to their own tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from core.security import issue_access_token
from core.settings import AppEnv, Settings
from core.temporal import LazyTemporalClient
from models.org import User
from scripts.demo.assets import seed_demo_assets
from scripts.demo.organisation import seed_demo
from storage.local import LocalBlobStore
from tests.conftest import wipe
from tests.free_ports import nowhere

MARKETER = "marketing@northwind.example"
EDITOR = "editor.amsterdam@northwind.example"
EXAMPLES = 4  # generated cases per operation and role
MAX_REQUESTS = 20  # per operation and role: the first coverage cases, in a fixed order
SKIPPED = {
    ("POST", "/api/v1/auth/token"),  # argon2 per call; the lockout has its own tests
    ("POST", "/api/v1/auth/logout"),  # would end the fuzzer's own token
    ("POST", "/api/v1/me/password"),
}


@schemathesis.check
def no_internal_error(ctx: Any, response: Any, case: Any) -> bool:
    """A 503 is a documented answer (Temporal or the database unreachable: nothing changed,
    try again); any other 5xx is the server failing."""
    if response.status_code >= 500 and response.status_code != 503:
        raise AssertionError(f"{response.status_code} from {case.method} {case.path}")
    return True


CHECKS = [
    no_internal_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


def _spec() -> dict[str, Any]:
    """The OpenAPI document as the app serves it (routes need no database to describe)."""
    quiet = Settings(app_env=AppEnv.test, _env_file=None)  # type: ignore[call-arg]
    return create_app(quiet).openapi()


schema = schemathesis.openapi.from_dict(_spec()).exclude(
    func=lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in SKIPPED
)
# The coverage phase (boundary values, missing and malformed fields for every parameter) is
# what finds most refusals that were 500s; trying every other HTTP method on every path is
# the routers' job (405) and would double the run.
schema.config.phases.coverage.unexpected_methods = set()
# As HQ (who reaches nearly every object): the coverage cases (explicit phase) and a few
# generated ones. As a partner editor: generated cases only, for the scope rules (403, 404).
BOUNDED = {
    "max_examples": EXAMPLES,
    "deadline": None,
    "database": None,
    "derandomize": True,
    "suppress_health_check": list(HealthCheck),
}
COVERED = settings(phases=[Phase.explicit, Phase.generate], **BOUNDED)
GENERATED = settings(phases=[Phase.generate], **BOUNDED)


@dataclass
class Fuzzed:
    client: TestClient
    headers: dict[str, dict[str, str]]
    sent: dict[tuple[str, str], int] = field(default_factory=dict)


@pytest.fixture(scope="module")
def fuzzed(
    settings: Settings, engine: Engine, demo_hash: str, blob_store: LocalBlobStore
) -> Iterator[Fuzzed]:
    """The app as `make up` runs it, on the demo data (seeded once for the whole module:
    what one operation creates, the next may find), with Temporal unreachable: actions that
    need it must answer 503, never 500."""
    with Session(engine) as session:
        seed_demo(session, demo_hash)
        seed_demo_assets(session, blob_store)
        session.commit()
    down = settings.model_copy(update={"temporal_address": nowhere()})
    app = create_app(down, engine=engine, temporal=LazyTemporalClient(down), blob_store=blob_store)
    secret = settings.secret_key.get_secret_value()
    headers = {}
    with Session(engine) as session:
        for email in (MARKETER, EDITOR):
            user = session.exec(select(User).where(User.email == email)).one()
            token = issue_access_token(
                secret, user.id or 0, 3600, generation=user.session_generation
            )
            headers[email] = {"Authorization": f"Bearer {token}"}
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Fuzzed(client, headers)
    finally:
        wipe(engine)


def _call(case: Any, fuzzed: Fuzzed, who: str) -> None:
    sent = fuzzed.sent.setdefault((who, case.operation.label), 0)
    if sent >= MAX_REQUESTS:  # the rest of this operation's coverage cases stay unsent
        return
    fuzzed.sent[(who, case.operation.label)] = sent + 1
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=fuzzed.headers[who])
    if not kwargs.get("cookies"):
        kwargs.pop("cookies", None)
    if isinstance(kwargs.get("data"), bytes | str):  # a raw body is content to httpx
        kwargs["content"] = kwargs.pop("data")
    if kwargs.get("files"):  # generated file contents can be numbers: send them as text
        kwargs["files"] = [
            (field, (name, data if isinstance(data, bytes | str) else str(data), *rest))
            for field, (name, data, *rest) in kwargs["files"]
        ]
    request = fuzzed.client.build_request(**kwargs)
    request.read()  # a multipart body is a stream: read it now, the report shows it later
    response = fuzzed.client.send(request, follow_redirects=False)
    case.validate_response(response, checks=CHECKS)


@schema.parametrize()
@COVERED
def test_api_as_a_brand_marketer(case: Any, fuzzed: Fuzzed) -> None:
    _call(case, fuzzed, MARKETER)


@schema.parametrize()
@GENERATED
def test_api_as_a_partner_editor(case: Any, fuzzed: Fuzzed) -> None:
    _call(case, fuzzed, EDITOR)
