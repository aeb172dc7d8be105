"""The API's edges: bodies refused before they are read, numbers beyond 64 bits, names taken,
times without a zone, and an action that arrives while the campaign is being started. Each
case answered 500 (or read 200 MB, or guessed) before."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.campaigns import PartnerCampaign
from models.org import Partner

Login = Callable[[str], dict[str, str]]
MARKETING = "marketing@northwind.example"
EDITOR_AMS = "editor.amsterdam@northwind.example"
BIG = 2**63  # one past the largest 64-bit integer


def _partner_id(engine: Engine, slug: str) -> int:
    with Session(engine) as s:
        partner = s.exec(select(Partner).where(Partner.slug == slug)).one()
        assert partner.id is not None
        return partner.id


# Bodies --------------------------------------------------------------------------------------


class Probe:
    """An ASGI call with a body we count: how much did the app pull before answering?"""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def post(
        self, path: str, chunks: list[bytes], headers: dict[str, str]
    ) -> tuple[int, int, dict[str, Any]]:
        pulled = 0
        pending = list(chunks)
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            nonlocal pulled
            if not pending:
                return {"type": "http.disconnect"}
            pulled += 1
            body = pending.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(pending)}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("test", 80),
            "app": self.app,
        }
        async with self.app.router.lifespan_context(self.app):
            await self.app(scope, receive, send)  # type: ignore[arg-type]
        start = next(m for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return start["status"], pulled, json.loads(body or b"{}")


@pytest.fixture
def probe(settings: Settings, demo: Engine) -> Probe:
    app = create_app(settings, engine=demo, temporal=LazyTemporalClient(settings))
    app.state.engine = demo
    return Probe(app)


async def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(
    probe: Probe, login: Login, settings: Settings
) -> None:
    size = settings.max_body_bytes + 1
    status, pulled, body = await probe.post(
        "/api/v1/campaigns",
        [b"x" * 1024],
        {**login(MARKETING), "content-type": "application/json", "content-length": str(size)},
    )
    assert (status, pulled) == (413, 0)
    assert "body" in body["detail"]


async def test_a_streamed_body_is_stopped_at_the_limit(
    probe: Probe, login: Login, settings: Settings
) -> None:
    """No Content-Length (chunked): counted while it streams; a 50 MB field never lands."""
    chunk = b'{"name": "' + b"x" * (256 * 1024)
    chunks = [chunk] + [b"x" * (256 * 1024)] * 200  # about 50 MB if it were all read
    status, pulled, body = await probe.post(
        "/api/v1/campaigns", chunks, {**login(MARKETING), "content-type": "application/json"}
    )
    assert status == 413 and body["status"] == 413
    assert pulled <= settings.max_body_bytes // (256 * 1024) + 2


async def test_an_unauthenticated_upload_is_refused_before_its_first_byte(
    probe: Probe, demo: Engine
) -> None:
    """The import route takes 200 MB, but only from someone signed in."""
    ams = _partner_id(demo, "amsterdam")
    status, pulled, _ = await probe.post(
        f"/api/v1/partners/{ams}/contacts/import",
        [b"x" * 1024] * 4,
        {"content-type": "multipart/form-data; boundary=x", "content-length": str(200 * 2**20)},
    )
    assert (status, pulled) == (401, 0)
    forged = await probe.post(
        f"/api/v1/partners/{ams}/contacts/import",
        [b"x" * 1024],
        {
            "authorization": "Bearer not-a-token",
            "content-type": "multipart/form-data; boundary=x",
            "content-length": str(200 * 2**20),
        },
    )
    assert forged[:2] == (401, 0)


async def test_a_signed_in_upload_gets_its_own_limit(probe: Probe, login: Login) -> None:
    """An upload larger than the JSON limit passes the gate when the caller is signed in
    (the route itself then checks the file)."""
    csv = b"email,consent_status\nbig@example.com,unknown\n" + b"#" * (2 * 2**20)
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + csv
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, _, _ = await probe.post(
        "/api/v1/partners/1/contacts/import",
        [body],
        {
            **{k.lower(): v for k, v in login(EDITOR_AMS).items()},
            "content-type": f"multipart/form-data; boundary={boundary}",
            "content-length": str(len(body)),
        },
    )
    assert status != 413 and status != 401


# Numbers beyond 64 bits ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/campaigns/{BIG}",
        f"/api/v1/partner-campaigns/{BIG}",
        f"/api/v1/partners/{BIG}",
        f"/api/v1/versions/{BIG}",
        f"/api/v1/assets/{BIG}",
    ],
)
def test_an_id_beyond_64_bits_is_not_found(client: TestClient, login: Login, path: str) -> None:
    resp = client.get(path, headers=login("admin@northwind.example"))
    assert resp.status_code in (404, 405), resp.text  # never a 500


def test_a_query_or_body_number_beyond_64_bits_is_a_422_naming_it(
    client: TestClient, login: Login, demo: Engine
) -> None:
    hq = login(MARKETING)
    offset = client.get(f"/api/v1/campaigns?offset={BIG}", headers=hq)
    assert offset.status_code == 422 and offset.json()["errors"][0]["field"] == "offset"
    now = datetime.now(UTC)
    created = client.post(
        "/api/v1/campaigns",
        json={
            "name": "Huge",
            "template_version_id": BIG,
            "target": {"all": True},
            "personalise_until": (now + timedelta(days=1)).isoformat(),
            "send_by": (now + timedelta(days=2)).isoformat(),
        },
        headers=hq,
    )
    assert created.status_code == 422, created.text
    assert created.json()["errors"][0]["field"] == "template_version_id"


# Names taken and times without a zone -----------------------------------------------------------


def test_renaming_a_segment_to_a_taken_name_is_a_409_on_name(
    client: TestClient, login: Login, demo: Engine
) -> None:
    base = f"/api/v1/partners/{_partner_id(demo, 'amsterdam')}/segments"
    editor = login(EDITOR_AMS)
    assert client.post(base, json={"name": "Gold"}, headers=editor).status_code == 201
    other = client.post(base, json={"name": "Silver"}, headers=editor).json()
    renamed = client.patch(f"{base}/{other['id']}", json={"name": "Gold"}, headers=editor)
    assert renamed.status_code == 409
    assert renamed.json()["errors"] == [
        {"field": "name", "message": "the partner already has a segment named 'Gold'"}
    ]
    assert client.get(f"{base}/{other['id']}", headers=editor).json()["name"] == "Silver"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/partner-campaigns/{pc}/schedule", {"send_at": "2031-01-01T10:00:00"}, "send_at"),
        (
            "/api/v1/campaigns/{c}/extend",
            {"personalise_until": "2031-01-01T10:00"},
            "personalise_until",
        ),
        (
            "/api/v1/partners/{p}/contacts",
            {
                "email": "a@b.example",
                "consent_status": "granted",
                "consent_source": "x",
                "consent_at": "2031-01-01T10:00:00",
            },
            "consent_at",
        ),
    ],
)
def test_a_time_without_a_zone_is_a_422_naming_the_field_everywhere(
    client: TestClient, login: Login, demo: Engine, path: str, body: dict[str, Any], field: str
) -> None:
    """Before, a naive send_at answered 409 with a Python comparison error while campaign
    creation took naive times as UTC."""
    url = path.format(pc=1, c=1, p=_partner_id(demo, "amsterdam"))
    who = MARKETING if "/campaigns/" in url else EDITOR_AMS
    resp = client.post(url, json=body, headers=login(who))
    assert resp.status_code == 422, resp.text
    assert [e["field"] for e in resp.json()["errors"]] == [field]
    assert "time zone" in resp.json()["detail"]


# Actions while a campaign is being started ----------------------------------------------------


async def test_an_action_before_the_partner_workflow_exists_says_it_is_being_started(
    app_with_worker: httpx.AsyncClient, login: Login, demo: Engine
) -> None:
    """The row exists a moment before its workflow (the fan-out starts them in pages): the
    answer was 409 "invited: it takes no more actions"; now it waits briefly, then 503 with
    Retry-After."""
    from tests.campaigns.test_campaign_workflows import CLOCK, make_campaign, values

    CLOCK[:] = [datetime.now(UTC)]
    cid = make_campaign(demo)
    with Session(demo) as s:
        ams = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        row = PartnerCampaign(
            campaign_id=cid,
            brand_id=ams.brand_id,
            region_id=ams.region_id,
            partner_id=ams.id or 0,
            state="invited",
            workflow_id=f"partner-campaign-not-started-{uuid.uuid4().hex[:6]}",
        )
        s.add(row)
        s.commit()
        pcid = row.id
    resp = await app_with_worker.put(
        f"/api/v1/partner-campaigns/{pcid}/content",
        json={"values": values()},
        headers=login(EDITOR_AMS),
    )
    assert resp.status_code == 503, resp.text
    assert resp.headers["retry-after"] == "2" and "being started" in resp.json()["detail"]
