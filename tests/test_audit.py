"""The audit trail through real rows: the hash chain, idempotent appends, tamper detection,
per-brand chains, concurrent appends, and the API (recording, filters, role scoping, CSV
export, permissions). Runs on SQLite, or on PostgreSQL when DATABASE_URL names one."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import JSON, Engine, MetaData, bindparam, func, text
from sqlmodel import Session, col, select
from temporalio.client import ScheduleActionStartWorkflow, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.audit import CheckpointActivities
from core import audit_keys
from core.audit_keys import AuditKey
from core.audit_schedule import ScheduleOutcome, checkpoint_schedule_id, ensure_checkpoint_schedule
from core.db import make_engine
from core.settings import PROJECT_ROOT, AssetStore, Settings
from models.audit import AuditChainHead, AuditEvent
from models.org import Brand, User
from models.workflow_io import CheckpointSweepResult
from scripts.migrate import alembic_config, upgrade
from services import audit, audit_checkpoints
from storage import LocalBlobStore, S3BlobStore, WriteOnceStore, make_checkpoint_store
from tests.contacts.test_spreadsheet import FORMULA_CELLS, PLAIN_CELLS
from tests.moto_fixture import (
    MOTO_ACCESS_KEY_ID,
    MOTO_SECRET_ACCESS_KEY,
    moto_s3,  # noqa: F401 - the fixture
)
from workflows.audit_checkpoint import AuditCheckpointWorkflow

Login = Callable[[str], dict[str, str]]
SessionFactory = Callable[[], Session]

NW_ADMIN = "admin@northwind.example"
CT_ADMIN = "admin@contoso.example"


# Helpers --------------------------------------------------------------------------------------


def _factory(engine: Engine) -> SessionFactory:
    return lambda: Session(engine, expire_on_commit=False)


def _new_brand(engine: Engine, slug: str = "acme") -> int:
    with Session(engine) as session:
        brand = Brand(slug=slug, name=slug.title())
        session.add(brand)
        session.commit()
        assert brand.id is not None
        return brand.id


def _brand_id(engine: Engine, slug: str) -> int:
    with Session(engine) as session:
        brand = session.exec(select(Brand).where(Brand.slug == slug)).one()
        assert brand.id is not None
        return brand.id


def _user_id(engine: Engine, email: str) -> int:
    with Session(engine) as session:
        user = session.exec(select(User).where(User.email == email)).one()
        assert user.id is not None
        return user.id


def _new_event(brand_id: int, n: int, key: str | None = None, **extra: Any) -> audit.NewEvent:
    values: dict[str, Any] = {
        "brand_id": brand_id,
        "actor": audit.SYSTEM_ACTOR,
        "action": "test.event",
        "entity_type": "thing",
        "entity_id": str(n),
        "event_key": key or f"test:{brand_id}:{n}",
        "after": {"n": n, "label": f"thing {n}"},
        "comment": f"event {n}",
    }
    values.update(extra)
    return audit.NewEvent(**values)


def _append_many(engine: Engine, brand_id: int, count: int) -> list[AuditEvent]:
    factory = _factory(engine)
    return [audit.append(factory, _new_event(brand_id, n)) for n in range(1, count + 1)]


def _verify(engine: Engine, brand_id: int) -> audit.VerifyResult:
    with Session(engine) as session:
        return audit.verify_chain(session, brand_id)


def _assert_ok(result: audit.VerifyResult, events: int) -> None:
    assert (result.ok, result.reason) == (True, None)
    assert result.checked == result.events == result.keyed == events
    assert (result.first_broken_seq, result.first_broken_id, result.legacy) == (None, None, 0)


def _rows(engine: Engine, brand_id: int) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(AuditEvent)
                .where(AuditEvent.brand_id == brand_id)
                .order_by(col(AuditEvent.seq))
            ).all()
        )


def _head(engine: Engine, brand_id: int) -> AuditChainHead | None:
    with Session(engine) as session:
        return session.get(AuditChainHead, brand_id)


def _api_verify(client: TestClient, login: Login, email: str = NW_ADMIN) -> dict[str, Any]:
    resp = client.get("/api/v1/audit/verify", headers=login(email))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _events(
    client: TestClient, login: Login, email: str, **params: str
) -> tuple[int, list[dict[str, Any]]]:
    resp = client.get("/api/v1/audit", headers=login(email), params={"limit": "200", **params})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return body["total"], body["items"]


def _partner_ids(client: TestClient, login: Login) -> dict[str, int]:
    resp = client.get("/api/v1/partners", headers=login(NW_ADMIN), params={"limit": "200"})
    assert resp.status_code == 200, resp.text
    return {p["slug"]: p["id"] for p in resp.json()["items"]}


def _edit_phone(client: TestClient, login: Login, slug: str, partner_id: int, rid: str) -> None:
    resp = client.patch(
        f"/api/v1/partners/{partner_id}",
        headers={**login(f"gm.{slug}@northwind.example"), "X-Request-ID": rid},
        json={"phone": "+31 20 555 0101"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["phone"] == "+31 20 555 0101"


def _create_region(client: TestClient, login: Login, name: str, rid: str) -> int:
    resp = client.post(
        "/api/v1/regions",
        headers={**login(NW_ADMIN), "X-Request-ID": rid},
        json={"name": name},
    )
    assert resp.status_code == 201, resp.text
    region_id: int = resp.json()["id"]
    return region_id


# 1. The chain and idempotent appends ----------------------------------------------------------


def test_appends_build_a_chain_that_verifies(db: Engine) -> None:
    brand_id = _new_brand(db)
    returned = _append_many(db, brand_id, 5)

    rows = _rows(db, brand_id)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert [r.hash for r in rows] == [e.hash for e in returned]
    assert rows[0].prev_hash == audit.GENESIS_HASH
    prev = audit.GENESIS_HASH
    for row in rows:
        assert row.prev_hash == prev
        assert row.hash == audit.chain_hash(prev, row)  # recomputed from the stored row
        assert len(row.hash) == 64
        prev = row.hash
    assert rows[2].after == {"n": 3, "label": "thing 3"}
    assert rows[2].comment == "event 3"

    head = _head(db, brand_id)
    assert head is not None
    assert (head.seq, head.hash) == (5, rows[-1].hash)
    _assert_ok(_verify(db, brand_id), 5)


def test_empty_chain_verifies(db: Engine) -> None:
    brand_id = _new_brand(db)
    _assert_ok(_verify(db, brand_id), 0)


def test_repeated_event_key_returns_the_original_event(db: Engine) -> None:
    brand_id = _new_brand(db)
    factory = _factory(db)
    first = audit.append(factory, _new_event(brand_id, 1, key="job:42:sent"))
    audit.append(factory, _new_event(brand_id, 2))

    # The same key again, even with different content, changes nothing.
    again = audit.append(
        factory, _new_event(brand_id, 99, key="job:42:sent", comment="retried activity")
    )
    assert (again.id, again.seq, again.hash) == (first.id, 1, first.hash)
    assert again.comment == "event 1"

    with Session(db) as session:
        inside = audit.append_in(session, _new_event(brand_id, 7, key="job:42:sent"))
        assert (inside.id, inside.seq, inside.hash) == (first.id, 1, first.hash)
        session.commit()
        keyed = session.exec(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.event_key == "job:42:sent")
        ).one()
        assert keyed == 1

    assert [r.seq for r in _rows(db, brand_id)] == [1, 2]
    head = _head(db, brand_id)
    assert head is not None and head.seq == 2
    _assert_ok(_verify(db, brand_id), 2)


def test_append_in_rolls_back_with_the_callers_transaction(db: Engine) -> None:
    brand_id = _new_brand(db)
    _append_many(db, brand_id, 2)
    with Session(db) as session:
        event = audit.append_in(session, _new_event(brand_id, 3))
        assert event.seq == 3
        session.rollback()  # the change it recorded failed: the event goes too

    assert [r.seq for r in _rows(db, brand_id)] == [1, 2]
    head = _head(db, brand_id)
    assert head is not None and head.seq == 2
    assert _verify(db, brand_id).ok is True
    # The next append takes seq 3 and the chain stays whole.
    assert audit.append(_factory(db), _new_event(brand_id, 3)).seq == 3
    _assert_ok(_verify(db, brand_id), 3)


# 2. Tampering ---------------------------------------------------------------------------------


def _sql(engine: Engine, statement: str, **params: Any) -> None:
    with engine.begin() as conn:
        result = conn.execute(text(statement), params)
        assert result.rowcount == 1, statement


def _edit_comment(engine: Engine, brand_id: int) -> None:
    _sql(
        engine,
        "UPDATE auditevent SET comment = 'nothing to see' WHERE brand_id = :b AND seq = 3",
        b=brand_id,
    )


def _edit_after(engine: Engine, brand_id: int) -> None:
    stmt = text('UPDATE auditevent SET "after" = :after WHERE brand_id = :b AND seq = 3')
    stmt = stmt.bindparams(bindparam("after", type_=JSON))
    with engine.begin() as conn:
        result = conn.execute(stmt, {"after": {"n": 3, "label": "forged"}, "b": brand_id})
        assert result.rowcount == 1


def _edit_and_rehash(engine: Engine, brand_id: int) -> None:
    """A forger who also fixes the edited row's own hash breaks the next row's link."""
    with Session(engine) as session:
        row = session.exec(
            select(AuditEvent).where(AuditEvent.brand_id == brand_id, AuditEvent.seq == 3)
        ).one()
        row.comment = "forged"
        new_hash = audit.chain_hash(row.prev_hash, row)
    _sql(
        engine,
        "UPDATE auditevent SET comment = 'forged', hash = :h WHERE brand_id = :b AND seq = 3",
        h=new_hash,
        b=brand_id,
    )


def _delete_middle(engine: Engine, brand_id: int) -> None:
    _sql(engine, "DELETE FROM auditevent WHERE brand_id = :b AND seq = 3", b=brand_id)


def _swap_2_and_4(engine: Engine, brand_id: int) -> None:
    # Through a temporary seq: (brand_id, seq) is unique.
    _sql(engine, "UPDATE auditevent SET seq = -1 WHERE brand_id = :b AND seq = 2", b=brand_id)
    _sql(engine, "UPDATE auditevent SET seq = 2 WHERE brand_id = :b AND seq = 4", b=brand_id)
    _sql(engine, "UPDATE auditevent SET seq = 4 WHERE brand_id = :b AND seq = -1", b=brand_id)


def _delete_last(engine: Engine, brand_id: int) -> None:
    _sql(engine, "DELETE FROM auditevent WHERE brand_id = :b AND seq = 5", b=brand_id)


TAMPERING = {
    # name: (tamper, first_broken_seq, checked, reason fragment, broken row has an id)
    "edited_comment": (_edit_comment, 3, 2, "does not match its hash", True),
    "edited_after_json": (_edit_after, 3, 2, "does not match its hash", True),
    "edited_and_rehashed": (_edit_and_rehash, 4, 3, "link to the previous event", True),
    # The first row that does not fit is the one found where the deleted seq 3 should be.
    "deleted_middle_row": (_delete_middle, 4, 2, "expected 3, found 4", True),
    "swapped_rows": (_swap_2_and_4, 2, 1, "link to the previous event", True),
    "truncated_tail": (_delete_last, 5, 4, "missing at the end", False),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_is_detected(case: str, client: TestClient, login: Login, demo: Engine) -> None:
    tamper, broken_seq, checked, reason, has_id = TAMPERING[case]
    brand_id = _brand_id(demo, "northwind")
    events = _append_many(demo, brand_id, 5)
    _assert_ok(_verify(demo, brand_id), 5)
    assert _api_verify(client, login)["ok"] is True

    tamper(demo, brand_id)

    result = _verify(demo, brand_id)
    assert result.ok is False
    assert result.first_broken_seq == broken_seq
    assert result.checked == checked
    assert result.reason is not None and reason in result.reason
    by_seq = {e.seq: e.id for e in events}
    if has_id:
        # The id of the row that sits at the broken position now.
        row = next(r for r in _rows(demo, brand_id) if r.seq == broken_seq)
        assert result.first_broken_id == row.id
        if case != "swapped_rows":
            assert result.first_broken_id == by_seq[broken_seq]
        else:
            assert result.first_broken_id == by_seq[4]
    else:
        assert result.first_broken_id is None

    assert _api_verify(client, login) == result.as_dict()


# 3. One chain per brand -----------------------------------------------------------------------


def test_chains_are_per_brand(client: TestClient, login: Login, demo: Engine) -> None:
    northwind = _brand_id(demo, "northwind")
    contoso = _brand_id(demo, "contoso")
    factory = _factory(demo)
    for n in range(1, 5):
        audit.append(factory, _new_event(northwind, n))
        audit.append(factory, _new_event(contoso, n))

    nw_rows, ct_rows = _rows(demo, northwind), _rows(demo, contoso)
    assert [r.seq for r in nw_rows] == [1, 2, 3, 4]
    assert [r.seq for r in ct_rows] == [1, 2, 3, 4]
    assert nw_rows[0].prev_hash == ct_rows[0].prev_hash == audit.GENESIS_HASH
    assert ct_rows[1].prev_hash == ct_rows[0].hash  # linked within its brand only
    assert {r.hash for r in nw_rows}.isdisjoint(r.hash for r in ct_rows)
    _assert_ok(_verify(demo, northwind), 4)
    _assert_ok(_verify(demo, contoso), 4)

    _sql(
        demo,
        "UPDATE auditevent SET actor = 'intruder' WHERE brand_id = :b AND seq = 2",
        b=contoso,
    )

    broken = _verify(demo, contoso)
    assert (broken.ok, broken.first_broken_seq) == (False, 2)
    _assert_ok(_verify(demo, northwind), 4)
    assert _api_verify(client, login, NW_ADMIN)["ok"] is True
    api_contoso = _api_verify(client, login, CT_ADMIN)
    assert (api_contoso["ok"], api_contoso["first_broken_seq"]) == (False, 2)


# 4. Concurrent appends ------------------------------------------------------------------------


def _run_threads(workers: list[Callable[[], None]]) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(workers))

    def run(work: Callable[[], None]) -> None:
        try:
            barrier.wait()
            work()
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "append threads hung"
    return errors


def test_concurrent_appends_make_one_unbroken_chain(db: Engine) -> None:
    brand_id = _new_brand(db)
    per_thread = 500
    results: dict[int, list[AuditEvent]] = {0: [], 1: []}

    def worker(t: int) -> Callable[[], None]:
        def work() -> None:
            factory = _factory(db)
            for i in range(per_thread):
                new = _new_event(brand_id, i, key=f"thread{t}:{i}", actor=f"worker-{t}")
                results[t].append(audit.append(factory, new))

        return work

    errors = _run_threads([worker(0), worker(1)])
    assert errors == []

    rows = _rows(db, brand_id)
    assert len(rows) == 2 * per_thread
    assert [r.seq for r in rows] == list(range(1, 2 * per_thread + 1))
    assert {r.event_key for r in rows} == {
        f"thread{t}:{i}" for t in (0, 1) for i in range(per_thread)
    }
    # What each append returned is what was committed.
    returned = {e.seq: e.hash for t in (0, 1) for e in results[t]}
    assert returned == {r.seq: r.hash for r in rows}
    for t in (0, 1):  # each thread's own events keep their order in the chain
        seqs = [e.seq for e in results[t]]
        assert seqs == sorted(seqs)
    head = _head(db, brand_id)
    assert head is not None and (head.seq, head.hash) == (2 * per_thread, rows[-1].hash)
    _assert_ok(_verify(db, brand_id), 2 * per_thread)


def test_concurrent_retries_of_the_same_events_append_each_once(db: Engine) -> None:
    brand_id = _new_brand(db)
    count = 100
    results: dict[int, list[AuditEvent]] = {0: [], 1: []}

    def worker(t: int) -> Callable[[], None]:
        def work() -> None:
            factory = _factory(db)
            for i in range(count):
                results[t].append(audit.append(factory, _new_event(brand_id, i, key=f"k{i}")))

        return work

    errors = _run_threads([worker(0), worker(1)])
    assert errors == []
    rows = _rows(db, brand_id)
    assert [r.seq for r in rows] == list(range(1, count + 1))
    assert [r.event_key for r in rows] == [f"k{i}" for i in range(count)]
    # Both "retries" got the one stored event back.
    assert [(e.seq, e.hash) for e in results[0]] == [(e.seq, e.hash) for e in results[1]]
    _assert_ok(_verify(db, brand_id), count)


# 5. The API -----------------------------------------------------------------------------------


def test_api_writes_record_events(client: TestClient, login: Login, demo: Engine) -> None:
    region_id = _create_region(client, login, "West", rid="req-west-1")

    total, items = _events(client, login, NW_ADMIN)
    assert total == 1
    event = items[0]
    assert event["seq"] == 1
    assert event["action"] == "region.created"
    assert event["actor"] == str(_user_id(demo, NW_ADMIN))
    assert event["request_id"] == "req-west-1"
    assert (event["entity_type"], event["entity_id"]) == ("region", str(region_id))
    assert (event["region_id"], event["partner_id"]) == (region_id, None)
    assert event["before"] is None
    assert event["after"]["name"] == "West"
    assert event["after"]["id"] == region_id

    # A write that fails records nothing: the event commits with the change or not at all.
    dup = client.post(
        "/api/v1/regions",
        headers={**login(NW_ADMIN), "X-Request-ID": "req-west-2"},
        json={"name": "West"},
    )
    assert dup.status_code == 422
    assert _events(client, login, NW_ADMIN)[0] == 1

    # An update records before and after.
    resp = client.patch(
        f"/api/v1/regions/{region_id}",
        headers={**login(NW_ADMIN), "X-Request-ID": "req-west-3"},
        json={"name": "West Coast"},
    )
    assert resp.status_code == 200, resp.text
    total, items = _events(client, login, NW_ADMIN)
    assert total == 2
    assert items[0]["seq"] == 2 and items[0]["action"] == "region.updated"
    assert items[0]["before"]["name"] == "West"
    assert items[0]["after"]["name"] == "West Coast"
    assert items[0]["request_id"] == "req-west-3"
    assert _api_verify(client, login) == {
        "ok": True,
        "checked": 2,
        "first_broken_seq": None,
        "first_broken_id": None,
        "reason": None,
        "events": 2,
        "keyed": 2,
        "legacy": 0,
        "checkpoint": None,
        "unanchored": 2,
        "refused_checkpoints": [],
    }


def _seed_api_events(client: TestClient, login: Login) -> dict[str, int]:
    """Four events: region West by admin, then phone edits by Berlin, Amsterdam and Munich GMs."""
    ids = _partner_ids(client, login)
    ids["west"] = _create_region(client, login, "West", rid="req-1")
    _edit_phone(client, login, "berlin", ids["berlin"], rid="req-2")
    _edit_phone(client, login, "amsterdam", ids["amsterdam"], rid="req-3")
    _edit_phone(client, login, "munich", ids["munich"], rid="req-4")
    return ids


def test_audit_filters(client: TestClient, login: Login, demo: Engine) -> None:
    ids = _seed_api_events(client, login)
    total, items = _events(client, login, NW_ADMIN)
    assert total == 4
    assert [e["seq"] for e in items] == [4, 3, 2, 1]  # newest first

    total, items = _events(client, login, NW_ADMIN, action="partner.updated")
    assert total == 3
    assert {e["partner_id"] for e in items} == {ids["berlin"], ids["amsterdam"], ids["munich"]}
    assert all(e["before"]["phone"] == "+00 100 200 300" for e in items)
    assert all(e["after"]["phone"] == "+31 20 555 0101" for e in items)

    total, items = _events(client, login, NW_ADMIN, entity_type="region")
    assert (total, [e["entity_id"] for e in items]) == (1, [str(ids["west"])])

    gm_berlin = str(_user_id(demo, "gm.berlin@northwind.example"))
    total, items = _events(client, login, NW_ADMIN, actor=gm_berlin)
    assert (total, items[0]["partner_id"], items[0]["request_id"]) == (1, ids["berlin"], "req-2")

    total, _ = _events(client, login, NW_ADMIN, action="partner.updated", actor=gm_berlin)
    assert total == 1
    assert _events(client, login, NW_ADMIN, action="no.such.action")[0] == 0

    # since (inclusive) and until (exclusive), in UTC and in another time zone.
    _, everything = _events(client, login, NW_ADMIN)
    at = {e["seq"]: datetime.fromisoformat(e["at"].replace("Z", "+00:00")) for e in everything}
    assert at[1] < at[2] < at[3] < at[4]
    since = at[3].astimezone(UTC).isoformat()
    total, items = _events(client, login, NW_ADMIN, since=since)
    assert (total, [e["seq"] for e in items]) == (2, [4, 3])
    cest = timezone(timedelta(hours=2))
    total, items = _events(client, login, NW_ADMIN, since=at[3].astimezone(cest).isoformat())
    assert [e["seq"] for e in items] == [4, 3]
    total, items = _events(client, login, NW_ADMIN, until=at[3].astimezone(cest).isoformat())
    assert [e["seq"] for e in items] == [2, 1]
    total, items = _events(
        client,
        login,
        NW_ADMIN,
        since=at[2].isoformat(),
        until=at[4].isoformat(),
    )
    assert [e["seq"] for e in items] == [3, 2]
    future = (at[4] + timedelta(days=1)).isoformat()
    assert _events(client, login, NW_ADMIN, since=future)[0] == 0

    naive = client.get(
        "/api/v1/audit", headers=login(NW_ADMIN), params={"since": "2026-01-01T00:00:00"}
    )
    assert naive.status_code == 422
    assert naive.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in naive.json()["errors"]] == ["since"]

    naive_until = client.get(
        "/api/v1/audit/export.csv",
        headers=login(NW_ADMIN),
        params={"until": "2026-01-01T00:00:00"},
    )
    assert naive_until.status_code == 422
    assert [e["field"] for e in naive_until.json()["errors"]] == ["until"]

    backwards = client.get(
        "/api/v1/audit",
        headers=login(NW_ADMIN),
        params={"since": at[4].isoformat(), "until": at[1].isoformat()},
    )
    assert backwards.status_code == 422
    assert [e["field"] for e in backwards.json()["errors"]] == ["until"]


def test_audit_reading_is_scoped_by_role(client: TestClient, login: Login, demo: Engine) -> None:
    ids = _seed_api_events(client, login)

    total, items = _events(client, login, "gm.berlin@northwind.example")
    assert total == 1
    assert [e["partner_id"] for e in items] == [ids["berlin"]]

    total, items = _events(client, login, "north@northwind.example")
    assert total == 2
    assert {e["partner_id"] for e in items} == {ids["berlin"], ids["amsterdam"]}

    total, items = _events(client, login, "south@northwind.example")
    assert [e["partner_id"] for e in items] == [ids["munich"]]

    # Brand-wide readers see everything of their brand, including the brand-level region event.
    for email in (NW_ADMIN, "marketing@northwind.example", "ops@northwind.example"):
        assert _events(client, login, email)[0] == 4

    # Another brand sees none of it, by listing, filter, or export.
    assert _events(client, login, CT_ADMIN) == (0, [])
    assert _events(client, login, CT_ADMIN, action="partner.updated") == (0, [])
    export = client.get("/api/v1/audit/export.csv", headers=login(CT_ADMIN))
    assert export.status_code == 200
    assert list(csv.reader(io.StringIO(export.text))) == [list(audit.CSV_COLUMNS)]

    # ... and its own events stay out of Northwind's view.
    resp = client.post(
        "/api/v1/regions", headers={**login(CT_ADMIN), "X-Request-ID": "ct-1"}, json={"name": "X"}
    )
    assert resp.status_code == 201, resp.text
    total, items = _events(client, login, CT_ADMIN)
    assert (total, items[0]["seq"], items[0]["request_id"]) == (1, 1, "ct-1")
    assert _events(client, login, NW_ADMIN)[0] == 4
    assert _events(client, login, "gm.berlin@northwind.example")[0] == 1

    # The CSV export is scoped the same way.
    berlin_csv = client.get(
        "/api/v1/audit/export.csv", headers=login("gm.berlin@northwind.example")
    )
    rows = list(csv.DictReader(io.StringIO(berlin_csv.text)))
    assert [r["partner_id"] for r in rows] == [str(ids["berlin"])]
    north_csv = client.get("/api/v1/audit/export.csv", headers=login("north@northwind.example"))
    rows = list(csv.DictReader(io.StringIO(north_csv.text)))
    assert sorted(r["partner_id"] for r in rows) == sorted(
        [str(ids["berlin"]), str(ids["amsterdam"])]
    )


def test_csv_export(client: TestClient, login: Login, demo: Engine) -> None:
    ids = _seed_api_events(client, login)
    northwind = _brand_id(demo, "northwind")
    factory = _factory(demo)
    comments = {
        '=HYPERLINK("http://x.example")': '\'=HYPERLINK("http://x.example")',
        "+1+2": "'+1+2",
        "-3": "'-3",
        "@SUM(A1:A2)": "'@SUM(A1:A2)",
        "plain note": "plain note",
    }
    for n, comment in enumerate(comments, start=1):
        audit.append(factory, _new_event(northwind, n, comment=comment, action="note.added"))

    resp = client.get("/api/v1/audit/export.csv", headers=login(NW_ADMIN))
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    assert "attachment" in resp.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(resp.text)))
    assert lines[0] == list(audit.CSV_COLUMNS)
    body = [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]
    total, items = _events(client, login, NW_ADMIN)
    assert total == 9
    assert len(body) == 9
    assert [r["seq"] for r in body] == [str(e["seq"]) for e in items]  # newest first
    assert [r["hash"] for r in body] == [e["hash"] for e in items]

    exported = {r["seq"]: r["comment"] for r in body if r["action"] == "note.added"}
    assert sorted(exported.values()) == sorted(comments.values())
    berlin = next(r for r in body if r["request_id"] == "req-2")
    assert berlin["partner_id"] == str(ids["berlin"])
    assert berlin["action"] == "partner.updated"
    assert '"phone": "+31 20 555 0101"' in berlin["after"]  # JSON stays JSON
    assert berlin["region_id"] != ""
    assert body[-1]["prev_hash"] == audit.GENESIS_HASH

    # Filters apply to the export too.
    only = client.get(
        "/api/v1/audit/export.csv", headers=login(NW_ADMIN), params={"action": "region.created"}
    )
    only_lines = list(csv.reader(io.StringIO(only.text)))
    assert len(only_lines) == 2
    assert only_lines[1][audit.CSV_COLUMNS.index("entity_id")] == str(ids["west"])


def test_csv_export_guards_the_same_cells_as_every_export(
    client: TestClient, login: Login, demo: Engine
) -> None:
    """The same cases as the contacts export (tests/contacts/test_spreadsheet.py), written
    the same way."""
    northwind = _brand_id(demo, "northwind")
    factory = _factory(demo)
    values = [*FORMULA_CELLS, *PLAIN_CELLS]
    for n, value in enumerate(values, start=1):
        audit.append(factory, _new_event(northwind, n, comment=value, action="note.added"))
    resp = client.get(
        "/api/v1/audit/export.csv", headers=login(NW_ADMIN), params={"action": "note.added"}
    )
    assert resp.status_code == 200
    comments = {r["entity_id"]: r["comment"] for r in csv.DictReader(io.StringIO(resp.text))}
    assert [comments[str(n)] for n in range(1, len(values) + 1)] == [
        "'" + v if v in FORMULA_CELLS else v for v in values
    ]


# 6. Permissions -------------------------------------------------------------------------------


def test_viewer_reads_and_verifies(client: TestClient, login: Login, demo: Engine) -> None:
    _seed_api_events(client, login)
    total, items = _events(client, login, "ops@northwind.example")
    assert total == 4 and len(items) == 4
    answer = _api_verify(client, login, "ops@northwind.example")
    assert {k: answer[k] for k in ("ok", "checked", "first_broken_seq", "reason")} == {
        "ok": True,
        "checked": 4,
        "first_broken_seq": None,
        "reason": None,
    }
    export = client.get("/api/v1/audit/export.csv", headers=login("ops@northwind.example"))
    assert export.status_code == 200
    assert len(list(csv.reader(io.StringIO(export.text)))) == 5
    # A viewer never writes, so it cannot add events either.
    denied = client.post(
        "/api/v1/regions", headers=login("ops@northwind.example"), json={"name": "East"}
    )
    assert denied.status_code == 403
    assert _events(client, login, NW_ADMIN)[0] == 4


@pytest.mark.parametrize(
    ("email", "path", "status"),
    [
        ("editor.amsterdam@northwind.example", "/api/v1/audit", 403),
        ("editor.amsterdam@northwind.example", "/api/v1/audit/export.csv", 403),
        ("editor.amsterdam@northwind.example", "/api/v1/audit/verify", 403),
        ("gm.berlin@northwind.example", "/api/v1/audit/verify", 403),
        ("north@northwind.example", "/api/v1/audit/verify", 403),
        ("marketing@northwind.example", "/api/v1/audit/verify", 403),
        ("gm.berlin@northwind.example", "/api/v1/audit", 200),
        ("north@northwind.example", "/api/v1/audit", 200),
    ],
)
def test_audit_permissions(
    email: str, path: str, status: int, client: TestClient, login: Login
) -> None:
    resp = client.get(path, headers=login(email))
    assert resp.status_code == status, resp.text
    if status == 403:
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["status"] == 403


def test_audit_requires_sign_in(client: TestClient, demo: Engine) -> None:
    for path in ("/api/v1/audit", "/api/v1/audit/verify", "/api/v1/audit/export.csv"):
        assert client.get(path).status_code == 401


# 7. Keyed links and checkpoints: a database writer without the key --------------------------

POLICY = audit_checkpoints.CheckpointPolicy("GOVERNANCE", timedelta(days=30))


def _checkpoint(
    engine: Engine, store: WriteOnceStore, brand_id: int, *, force: bool = False
) -> audit_checkpoints.Written | None:
    with Session(engine) as session:
        return audit_checkpoints.write_checkpoint(
            session, store, brand_id, policy=POLICY, now=datetime.now(UTC), force=force
        )


def _verify_anchored(engine: Engine, store: WriteOnceStore, brand_id: int) -> audit.VerifyResult:
    keys = audit_keys.current_keys()
    anchor = audit_checkpoints.anchor_for(store, keys, brand_id)
    with Session(engine) as session:
        return audit.verify_chain(session, brand_id, keys, anchor)


def _forge_with_sha256(
    engine: Engine, brand_id: int, *, edit_seq: int, from_seq: int, downgrade: bool
) -> None:
    """What a database writer without the key does: edit an event, recompute every link from
    `from_seq` on with plain SHA-256 (marking them plain when `downgrade`), move the head."""
    with Session(engine) as session:
        rows = list(
            session.exec(
                select(AuditEvent)
                .where(AuditEvent.brand_id == brand_id)
                .order_by(col(AuditEvent.seq))
            ).all()
        )
        prev = rows[from_seq - 2].hash if from_seq > 1 else audit.GENESIS_HASH
        for row in rows[from_seq - 1 :]:
            if row.seq == edit_seq:
                row.comment = "forged"
            if downgrade:
                row.mac_version, row.key_id = audit.MAC_LEGACY, None
            row.prev_hash = prev
            row.hash = hashlib.sha256(prev.encode() + audit.canonical_json(row)).hexdigest()
            prev = row.hash
            session.add(row)
        head = session.get(AuditChainHead, brand_id)
        assert head is not None
        head.hash = prev
        session.add(head)
        session.commit()


FORGERIES = {
    # name: (edit_seq, recompute from, downgrade, checkpoint first, broken seq, reason)
    "keyed_links_recomputed_with_sha256": (3, 3, False, False, 3, "does not match its hash"),
    "downgraded_from_the_edit": (3, 3, True, False, 3, "plain SHA-256 link after keyed"),
    "whole_chain_downgraded_under_a_checkpoint": (3, 1, True, True, 1, "keyed links only"),
}


@pytest.mark.parametrize("case", list(FORGERIES))
def test_a_rewritten_event_with_recomputed_links_fails(
    case: str, client: TestClient, login: Login, demo: Engine, checkpoint_store: WriteOnceStore
) -> None:
    edit, start, downgrade, checkpoint_first, broken_seq, reason = FORGERIES[case]
    brand_id = _brand_id(demo, "northwind")
    _append_many(demo, brand_id, 5)
    if checkpoint_first:
        _checkpoint(demo, checkpoint_store, brand_id)
    assert _api_verify(client, login)["ok"] is True

    _forge_with_sha256(demo, brand_id, edit_seq=edit, from_seq=start, downgrade=downgrade)

    result = _verify_anchored(demo, checkpoint_store, brand_id)
    assert result.ok is False
    assert (result.first_broken_seq, result.checked) == (broken_seq, broken_seq - 1)
    assert result.reason is not None and reason in result.reason
    answer = _api_verify(client, login)
    assert (answer["ok"], answer["first_broken_seq"]) == (False, broken_seq)


def test_a_dropped_tail_with_a_rewound_head_fails_once_a_checkpoint_covered_it(
    client: TestClient, login: Login, demo: Engine, checkpoint_store: WriteOnceStore
) -> None:
    brand_id = _brand_id(demo, "northwind")
    factory = _factory(demo)
    _append_many(demo, brand_id, 5)
    written = _checkpoint(demo, checkpoint_store, brand_id)
    assert written is not None and written.checkpoint.seq == 5
    for n in (6, 7):
        audit.append(factory, _new_event(brand_id, n))

    # The writer drops events 4..7 and rewinds the head row to event 3.
    third = _rows(demo, brand_id)[2]
    with demo.begin() as conn:
        conn.execute(
            text("DELETE FROM auditevent WHERE brand_id = :b AND seq > 3"), {"b": brand_id}
        )
        conn.execute(
            text("UPDATE auditchainhead SET seq = 3, hash = :h WHERE brand_id = :b"),
            {"h": third.hash, "b": brand_id},
        )
    assert _verify(demo, brand_id).ok is True  # the database alone cannot tell

    result = _verify_anchored(demo, checkpoint_store, brand_id)
    assert (result.ok, result.checked, result.first_broken_seq) == (False, 3, 4)
    assert result.reason is not None
    assert result.reason.startswith("events missing after checkpoint seq 5")
    assert result.checkpoint is not None and result.checkpoint.seq == 5
    answer = _api_verify(client, login)
    assert (answer["ok"], answer["reason"]) == (False, result.reason)
    assert answer["checkpoint"]["seq"] == 5

    # The application carries on: seq 4 and 5 come back with other content ...
    for n in (104, 105):
        audit.append(factory, _new_event(brand_id, n))
    result = _verify_anchored(demo, checkpoint_store, brand_id)
    assert (result.ok, result.first_broken_seq) == (False, 5)
    assert result.reason is not None and "does not match the checkpoint" in result.reason
    # ... and no later checkpoint blesses the result, scheduled or on demand.
    with pytest.raises(audit_checkpoints.CheckpointRefused, match="seq 5 no longer matches"):
        _checkpoint(demo, checkpoint_store, brand_id)
    refused = client.post("/api/v1/audit/checkpoints", headers=login(NW_ADMIN))
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "no longer matches" in refused.json()["detail"]


def test_forged_checkpoints_are_refused(db: Engine, checkpoint_store: WriteOnceStore) -> None:
    brand_id = _new_brand(db)
    _append_many(db, brand_id, 3)
    written = _checkpoint(db, checkpoint_store, brand_id)
    assert written is not None
    genuine = written.checkpoint
    now = datetime.now(UTC)

    def plant(cp: audit_checkpoints.Checkpoint) -> None:
        """Someone who can write to the checkpoint store, but has no audit key."""
        checkpoint_store.put_new(
            cp.key, cp.to_bytes(), "application/json", retain_until=now, mode="GOVERNANCE"
        )

    # Signed with a guessed key, claiming the chain had reached seq 9 ...
    plant(audit_checkpoints.sign(AuditKey.from_root("a guess"), brand_id, 9, "f" * 64, now, 0))
    # ... and a genuine checkpoint altered to claim seq 8, its signature kept.
    plant(dataclasses.replace(genuine, seq=8, at=now))

    result = _verify_anchored(db, checkpoint_store, brand_id)
    assert result.ok is False
    assert result.checkpoint is not None and result.checkpoint.seq == 3  # the genuine one
    assert (result.checked, result.first_broken_seq) == (3, None)  # the chain itself is whole
    assert [r.location.split("-seq-")[1][:2] for r in result.refused_checkpoints] == ["9-", "8-"]
    assert "which is not configured" in result.refused_checkpoints[0].reason
    assert "signature does not verify" in result.refused_checkpoints[1].reason
    assert result.reason is not None and result.reason.startswith("checkpoint ")
    assert "refused" in result.reason and "events missing" not in result.reason


def test_a_checkpoint_under_another_brand_or_name_is_refused(
    db: Engine, checkpoint_store: LocalBlobStore
) -> None:
    mine, other = _new_brand(db, "mine"), _new_brand(db, "other")
    _append_many(db, other, 4)
    written = _checkpoint(db, checkpoint_store, other)
    assert written is not None
    # Copied into my prefix, the other brand's (genuine) checkpoint would claim 4 events.
    name = written.checkpoint.key.replace(f"brand-{other}/", f"brand-{mine}/")
    checkpoint_store.put_new(
        name,
        checkpoint_store.get(written.checkpoint.key),
        "application/json",
        retain_until=datetime.now(UTC),
        mode="GOVERNANCE",
    )
    result = _verify_anchored(db, checkpoint_store, mine)
    assert (result.ok, result.checkpoint) == (False, None)
    assert [r.reason for r in result.refused_checkpoints] == [f"belongs to brand {other}"]


def test_checkpoint_now_through_the_api(
    client: TestClient, login: Login, demo: Engine, checkpoint_store: LocalBlobStore
) -> None:
    _seed_api_events(client, login)
    resp = client.post("/api/v1/audit/checkpoints", headers=login(NW_ADMIN))
    assert resp.status_code == 201, resp.text
    body = resp.json()
    brand_id = _brand_id(demo, "northwind")
    assert (body["brand_id"], body["seq"], body["legacy_until"]) == (brand_id, 4, 0)
    assert body["hash"] == _rows(demo, brand_id)[-1].hash
    assert body["key_id"] == audit_keys.current_keys().current.key_id
    assert body["location"].startswith(f"local:audit-checkpoints/blobs/brand-{brand_id}/cp-")
    assert "no retention lock" in body["lock"] and body["retain_until"] is None
    stored = checkpoint_store.keys(f"brand-{brand_id}/")
    assert [f"local:audit-checkpoints/blobs/{k}" for k in stored] == [body["location"]]

    answer = _api_verify(client, login)
    assert (answer["ok"], answer["events"], answer["keyed"], answer["legacy"]) == (True, 4, 4, 0)
    assert answer["unanchored"] == 0
    assert {k: answer["checkpoint"][k] for k in ("seq", "hash", "location")} == {
        k: body[k] for k in ("seq", "hash", "location")
    }
    _edit_phone(client, login, "berlin", _partner_ids(client, login)["berlin"], rid="req-5")
    assert _api_verify(client, login)["unanchored"] == 1
    # Another brand's admin anchors their own brand only.
    other = client.post("/api/v1/audit/checkpoints", headers=login(CT_ADMIN))
    assert other.status_code == 201
    assert other.json()["brand_id"] == _brand_id(demo, "contoso")


def test_s3_checkpoints_carry_an_object_lock_retention(
    db: Engine,
    moto_s3: str,  # noqa: F811
    settings: Settings,
) -> None:
    brand_id = _new_brand(db)
    _append_many(db, brand_id, 2)
    locked_bucket, plain_bucket = (f"audit-{uuid.uuid4().hex[:20]}" for _ in range(2))
    reports = {}
    for bucket, lock in ((locked_bucket, True), (plain_bucket, False)):
        store = make_checkpoint_store(
            settings.model_copy(
                update={
                    "asset_store": AssetStore.s3,
                    "audit_checkpoint_bucket": bucket,
                    "aws_endpoint_url": moto_s3,
                    "aws_access_key_id": MOTO_ACCESS_KEY_ID,
                    "aws_secret_access_key": SecretStr(MOTO_SECRET_ACCESS_KEY),
                    "aws_region": "eu-west-1",
                }
            )
        )
        assert isinstance(store, S3BlobStore)
        store.ensure_bucket(object_lock=lock)
        written = _checkpoint(db, store, brand_id)
        assert written is not None
        head = store.client.head_object(
            Bucket=bucket, Key=f"audit-checkpoints/{written.checkpoint.key}"
        )
        reports[lock] = (head.get("ObjectLockMode"), _verify_anchored(db, store, brand_id))

    mode, result = reports[True]
    assert mode == "GOVERNANCE"
    assert result.ok is True and result.checkpoint is not None
    assert result.checkpoint.location.startswith(f"s3://{locked_bucket}/audit-checkpoints/brand-")
    assert result.checkpoint.lock == "S3 Object Lock GOVERNANCE"
    assert result.checkpoint.retain_until is not None
    assert result.checkpoint.retain_until > datetime.now(UTC) + timedelta(days=29)
    mode, result = reports[False]
    assert mode is None
    assert result.ok is True and result.checkpoint is not None
    assert f"bucket {plain_bucket} has no Object Lock" in result.checkpoint.lock


# 8. Events from before keying --------------------------------------------------------------------

BEFORE_KEYING = "7e2c0b8f8003"


def _legacy_database(tmp_path: Path, chains: dict[str, int]) -> tuple[Engine, dict[str, int]]:
    """A database at the revision before keyed links, with plain SHA-256 chains written as
    the code of that time wrote them; then migrated to head."""
    engine = make_engine(f"sqlite:///{tmp_path / 'legacy.db'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), BEFORE_KEYING)
        tables = MetaData()
        tables.reflect(conn, only=["brand", "auditevent", "auditchainhead"])
        ids = {}
        for slug, count in chains.items():
            columns = tables.tables["brand"].c
            brand = {
                k: v
                for k, v in Brand(slug=slug, name=slug).model_dump(exclude={"id"}).items()
                if k in columns  # columns added after that revision are not there yet
            }
            brand_id = conn.execute(
                tables.tables["brand"].insert().values(**brand)
            ).inserted_primary_key[0]
            ids[slug] = brand_id
            prev = audit.GENESIS_HASH
            for n in range(1, count + 1):
                event = AuditEvent(
                    brand_id=brand_id,
                    seq=n,
                    event_key=f"old:{slug}:{n}",
                    at=datetime(2026, 11, 1, 9, n, 0, 123456, tzinfo=UTC),
                    actor="7",
                    action="partner.updated",
                    entity_type="partner",
                    entity_id=str(n),
                    after={"phone": f"+49 30 {n}"},
                    comment=f"old event {n}",
                    prev_hash=prev,
                    hash="",
                )
                event.hash = audit.legacy_hash(prev, event)
                values = event.model_dump(exclude={"id", "mac_version", "key_id"})
                conn.execute(tables.tables["auditevent"].insert().values(**values))
                prev = event.hash
            conn.execute(
                tables.tables["auditchainhead"]
                .insert()
                .values(brand_id=brand_id, seq=count, hash=prev)
            )
    with engine.begin() as conn:
        upgrade(conn)
    return engine, ids


def test_events_from_before_keying_still_verify_and_new_ones_are_keyed(tmp_path: Path) -> None:
    engine, ids = _legacy_database(tmp_path, {"old": 3})
    brand_id = ids["old"]
    rows = _rows(engine, brand_id)
    assert [(r.mac_version, r.key_id) for r in rows] == [(audit.MAC_LEGACY, None)] * 3
    result = _verify(engine, brand_id)
    assert (result.ok, result.checked, result.legacy, result.keyed) == (True, 3, 3, 0)

    factory = _factory(engine)
    for n in (4, 5):
        audit.append(factory, _new_event(brand_id, n))
    rows = _rows(engine, brand_id)
    key_id = audit_keys.current_keys().current.key_id
    assert [(r.mac_version, r.key_id) for r in rows[3:]] == [(audit.MAC_HMAC, key_id)] * 2
    assert rows[3].prev_hash == rows[2].hash  # the keyed chain continues the plain one
    assert rows[3].hash != audit.legacy_hash(rows[2].hash, rows[3])
    result = _verify(engine, brand_id)
    assert (result.ok, result.checked, result.legacy, result.keyed) == (True, 5, 3, 2)

    store = LocalBlobStore(tmp_path / "audit-checkpoints", "secret", "http://test")
    report = audit_checkpoints.sweep(factory, store, policy=POLICY, now=datetime.now(UTC))
    assert [(w.checkpoint.seq, w.checkpoint.legacy_until) for w in report.written] == [(5, 3)]
    result = _verify_anchored(engine, store, brand_id)
    assert (result.ok, result.legacy, result.keyed, result.unanchored) == (True, 3, 2, 0)
    engine.dispose()


def test_the_first_checkpoint_anchors_the_plain_prefix(tmp_path: Path) -> None:
    """Plain links can be recomputed by anyone, so a plain prefix is only as safe as the
    first checkpoint that pins it; from then on rewriting it fails."""
    engine, ids = _legacy_database(tmp_path, {"old": 4})
    brand_id = ids["old"]
    store = LocalBlobStore(tmp_path / "audit-checkpoints", "secret", "http://test")
    audit_checkpoints.sweep(_factory(engine), store, policy=POLICY, now=datetime.now(UTC))

    _forge_with_sha256(engine, brand_id, edit_seq=2, from_seq=2, downgrade=False)

    assert _verify(engine, brand_id).ok is True  # every plain link was recomputed
    result = _verify_anchored(engine, store, brand_id)
    assert (result.ok, result.first_broken_seq, result.checked) == (False, 4, 3)
    assert result.reason is not None and "does not match the checkpoint" in result.reason
    engine.dispose()


def test_after_the_first_sweep_new_chains_have_no_plain_links_to_excuse(tmp_path: Path) -> None:
    engine, _ = _legacy_database(tmp_path, {"old": 2})
    store = LocalBlobStore(tmp_path / "audit-checkpoints", "secret", "http://test")
    audit_checkpoints.sweep(_factory(engine), store, policy=POLICY, now=datetime.now(UTC))
    assert audit_checkpoints.sweep_done(store, audit_keys.current_keys())

    # A brand whose events all came after the upgrade, downgraded before its first checkpoint.
    new_brand = _new_brand(engine, "newcomer")
    _append_many(engine, new_brand, 3)
    _forge_with_sha256(engine, new_brand, edit_seq=2, from_seq=1, downgrade=True)

    assert _verify(engine, new_brand).ok is True  # without the checkpoint store it looks fine
    result = _verify_anchored(engine, store, new_brand)
    assert (result.ok, result.first_broken_seq, result.checkpoint) == (False, 1, None)
    assert result.reason is not None and "(plain links: none)" in result.reason
    # And its first checkpoint does not take the database's word for the plain prefix.
    written = _checkpoint(engine, store, new_brand)
    assert written is not None and written.checkpoint.legacy_until == 0
    engine.dispose()


# 9. The checkpoint schedule ----------------------------------------------------------------------


async def test_the_schedules_workflow_anchors_brands_whose_head_moved(
    workflow_env: WorkflowEnvironment, db: Engine, checkpoint_store: LocalBlobStore
) -> None:
    first, second = _new_brand(db, "first"), _new_brand(db, "second")
    _new_brand(db, "silent")  # no events: nothing to anchor
    _append_many(db, first, 2)
    _append_many(db, second, 3)
    activities = CheckpointActivities(db, checkpoint_store, POLICY)
    queue = f"test-{uuid.uuid4().hex[:10]}"

    async def tick() -> CheckpointSweepResult:
        return await workflow_env.client.execute_workflow(
            AuditCheckpointWorkflow.run, id=f"{queue}-{uuid.uuid4().hex[:6]}", task_queue=queue
        )

    with ThreadPoolExecutor(2) as pool:
        async with Worker(
            workflow_env.client,
            task_queue=queue,
            workflows=[AuditCheckpointWorkflow],
            activities=[activities.write_audit_checkpoints],
            activity_executor=pool,
        ):
            result = await tick()
            assert len(result.written) == 2 and result.unchanged == 1
            assert {w.split("/")[2] for w in result.written} == {
                f"brand-{first}",
                f"brand-{second}",
            }
            assert (await tick()).written == []  # nothing moved

            audit.append(_factory(db), _new_event(second, 4))
            result = await tick()
            assert [w.split("/")[2] for w in result.written] == [f"brand-{second}"]
            anchor = _verify_anchored(db, checkpoint_store, second).checkpoint
            assert anchor is not None and anchor.seq == 4

            # A rewound head is not anchored: the run fails, visibly, naming the brand.
            third = _rows(db, second)[2].hash
            with db.begin() as conn:
                delete = "DELETE FROM auditevent WHERE brand_id = :b AND seq = 4"
                conn.execute(text(delete), {"b": second})
                conn.execute(
                    text("UPDATE auditchainhead SET seq = 3, hash = :h WHERE brand_id = :b"),
                    {"h": third, "b": second},
                )
            with pytest.raises(WorkflowFailureError) as failed:
                await tick()
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "AuditCheckpointRefused"
    assert f"brand {second}: events missing after checkpoint seq 4" in str(cause)
    assert sweep_marker_exists(checkpoint_store)


def sweep_marker_exists(store: WriteOnceStore) -> bool:
    return audit_checkpoints.sweep_done(store, audit_keys.current_keys())


@pytest.mark.e2e
async def test_the_checkpoint_schedule_is_created_once_and_follows_the_settings(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    """What every worker start does: the first creates it, later ones find it unchanged,
    a changed interval is applied, 0 removes it."""
    local = settings.model_copy(update={"temporal_task_queue": f"test-{uuid.uuid4().hex[:10]}"})
    client = dev_env.client
    schedule_id = checkpoint_schedule_id(local)
    assert await ensure_checkpoint_schedule(client, local) == ScheduleOutcome.created
    assert await ensure_checkpoint_schedule(client, local) == ScheduleOutcome.unchanged

    schedule = (await client.get_schedule_handle(schedule_id).describe()).schedule
    assert [i.every for i in schedule.spec.intervals] == [timedelta(minutes=10)]
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.task_queue) == (
        "AuditCheckpointWorkflow",
        local.temporal_task_queue,
    )

    faster = local.model_copy(update={"audit_checkpoint_interval": 60})
    assert await ensure_checkpoint_schedule(client, faster) == ScheduleOutcome.updated
    assert await ensure_checkpoint_schedule(client, faster) == ScheduleOutcome.unchanged
    schedule = (await client.get_schedule_handle(schedule_id).describe()).schedule
    assert [i.every for i in schedule.spec.intervals] == [timedelta(minutes=1)]

    off = local.model_copy(update={"audit_checkpoint_interval": 0})
    assert await ensure_checkpoint_schedule(client, off) == ScheduleOutcome.deleted
    assert await ensure_checkpoint_schedule(client, off) == ScheduleOutcome.off


def test_checkpoint_command_anchors_now(db: Engine, settings: Settings, tmp_path: Path) -> None:
    brand_id = _new_brand(db)
    _append_many(db, brand_id, 2)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "APP_ENV": "test",
        "DATABASE_URL": settings.resolved_database_url,
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": settings.secret_key.get_secret_value(),
    }
    run = [sys.executable, "-m", "scripts.audit_checkpoint"]
    proc = subprocess.run(
        run, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert f"brand {brand_id}: seq 2 anchored at local:audit-checkpoints/blobs/" in proc.stdout
    assert "1 written, 0 unchanged" in proc.stdout
    store = LocalBlobStore(tmp_path / "audit-checkpoints", "unused", "http://test")
    assert _verify_anchored(db, store, brand_id).checkpoint is not None

    again = subprocess.run(
        [*run, "--brand", str(brand_id)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    assert len(store.keys(f"brand-{brand_id}/")) == 2  # named brands are anchored even unmoved
