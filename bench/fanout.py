"""Campaign fan-out: launching to many partners against bare workflow starts on the same server.

    python -m bench.fanout [--partners 1000] [--database-url URL] [--extend] [--add N]
                           [--skip parent,loop]

The whole product in one process (bench.campaign_stack: dev server, in-process workers, the
API over ASGI, a fresh SQLite file). A draft campaign targets a region of `--partners`
generated partners and is launched through POST /api/v1/campaigns/{id}/launch. Three clocks
run from that request: until the campaign workflow (or its shards, over 1,000 partners) reports
every partner workflow started (the `started_count` query, asked every 20 ms) - the product's
start rate; until every partner campaign row has left `invited` (drafting); and until every
recipient's invitation is marked sent (a `notification.sent` audit event per recipient, written
after the email went to the outbox: two per bench partner, its editor and its GM).

The baseline, in the same run on the same server (trivial workflows defined here, returning at
once, on a worker and task queue of their own): the same number of client starts with 100 in
flight (asyncio.gather in batches of 100) - the goal line, product / concurrent >= 0.8. The
weaker baselines, printed for comparison with earlier figures: a bare start_workflow loop, one
start after the other, and trivial children started by one trivial parent in gathered batches
of 100 (`--skip loop,parent` leaves them out, for long runs).

Then the operations on the running campaign, timed from their request until the database shows
them done (the API's campaign read shows the same counts): `--extend` moves the window by a day
(every open personalise task due at the new end), `--add N` adds N partners of another region
(each drafting and invited), and cancel (every partner campaign final). History event counts
and sizes of the campaign workflow, its shards and one partner workflow are printed after the
fan-out and again once the campaign has closed (Temporal's limits: 50K events / 50 MB per
history, warnings from 10K events / 10 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import time
import uuid
from collections.abc import Awaitable
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, text
from sqlmodel import Session, col, select
from temporalio import workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.worker import Worker
from temporalio.workflow import ParentClosePolicy

from activities.notifications import SENT_ACTION
from bench.campaign_stack import FINAL_STATES, Stack, campaign_stack, gather_in_batches
from domain.states import TaskKind
from domain.workflow_ids import campaign_workflow_id, partner_campaign_workflow_id
from models.audit import AuditEvent
from models.campaigns import ApprovalTask, PartnerCampaign
from models.workflow_io import CampaignWorkflowInput
from workflows.campaign import CampaignWorkflow

BATCH = 100  # as activities.fanout.WINDOW
WARM_UP = 20
GOAL = 0.8
MAX_CHILDREN = CampaignWorkflowInput.model_fields["max_children"].default  # partners per shard
RECIPIENTS = 2  # each bench partner's editor and GM hear of the invitation
PROGRESS = 15.0  # seconds between progress lines of an operation


@workflow.defn(name="BenchTrivial", sandboxed=False)
class Trivial:
    @workflow.run
    async def run(self, n: int) -> int:
        return n


@workflow.defn(name="BenchTrivialParent", sandboxed=False)
class TrivialParent:
    """The product's fan-out shape without its code: `n` trivial children started in gathered
    batches of 100 by one parent; returns once all have started (children are abandoned)."""

    @workflow.run
    async def run(self, n: int) -> int:
        wid = workflow.info().workflow_id
        for start in range(0, n, BATCH):
            await asyncio.gather(
                *(
                    workflow.start_child_workflow(
                        Trivial.run,
                        i,
                        id=f"{wid}-{i}",
                        parent_close_policy=ParentClosePolicy.ABANDON,
                    )
                    for i in range(start, min(n, start + BATCH))
                )
            )
        return n


async def bare_loop(client: Client, task_queue: str, n: int, run: str) -> float:
    """The issue's baseline, literally: a client loop starting `n` trivial workflows one after
    the other; seconds until the last start was accepted."""
    start = time.perf_counter()
    for i in range(n):
        await client.start_workflow(
            Trivial.run, i, id=f"bench-loop-{run}-{i}", task_queue=task_queue
        )
    return time.perf_counter() - start


async def bare_starts(client: Client, task_queue: str, n: int, run: str) -> tuple[float, float]:
    """(seconds until every start was accepted, seconds until every workflow completed)."""
    start = time.perf_counter()

    async def one(i: int) -> WorkflowHandle[Trivial, int]:
        return await client.start_workflow(
            Trivial.run, i, id=f"bench-trivial-{run}-{i}", task_queue=task_queue
        )

    handles: list[WorkflowHandle[Trivial, int]] = await gather_in_batches(one, n, BATCH)
    started = time.perf_counter() - start
    # Results in batches: 10,000 history long-polls at once exceed the namespace's poller limit.
    for offset in range(0, n, BATCH):
        await asyncio.gather(*(h.result() for h in handles[offset : offset + BATCH]))
    return started, time.perf_counter() - start


async def parent_starts(client: Client, task_queue: str, n: int, run: str) -> float:
    """Seconds until a trivial parent has started `n` trivial children."""
    start = time.perf_counter()
    await client.execute_workflow(
        TrivialParent.run, n, id=f"bench-parent-{run}", task_queue=task_queue
    )
    return time.perf_counter() - start


def campaign_workflows(cid: int, partners: int) -> list[str]:
    """The workflows that start partner workflows: the campaign, or its shards."""
    wid = campaign_workflow_id(cid)
    if partners <= MAX_CHILDREN:
        return [wid]
    return [f"{wid}-shard-{n}" for n in range(math.ceil(partners / MAX_CHILDREN))]


async def wait_for_starts(stack: Stack, cid: int, n: int, limit: float = 1800) -> float | None:
    """Seconds until the campaign workflow (or its shards) has started `n` partner workflows
    (asked by query every 20 ms; a count moves by one start page at a time)."""
    counts = dict.fromkeys(campaign_workflows(cid, n), 0)
    sizes = {wid: min(MAX_CHILDREN, n - i * MAX_CHILDREN) for i, wid in enumerate(counts)}
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        for wid in [w for w, c in counts.items() if c < sizes[w]]:
            try:
                handle = stack.client.get_workflow_handle(wid)
                counts[wid] = await handle.query(CampaignWorkflow.started_count)
            except RPCError:  # not started yet
                pass
        if sum(counts.values()) >= n:
            return time.perf_counter() - start
        await asyncio.sleep(0.02)
    return None


def _invitations(engine: Engine, cid: int) -> int:
    """Sent markers of invitation notices of campaign `cid` (one per recipient)."""
    pattern = f"notice:{partner_campaign_workflow_id(cid, 0)[:-1]}%:1:invited:%"
    with Session(engine) as s:
        stmt = select(func.count()).where(
            AuditEvent.action == SENT_ACTION, col(AuditEvent.event_key).like(pattern)
        )
        return int(s.exec(stmt).one())


async def wait_for_invitations(
    stack: Stack, cid: int, want: int, limit: float = 1800
) -> float | None:
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        if await asyncio.to_thread(_invitations, stack.engine, cid) >= want:
            return time.perf_counter() - start
        await asyncio.sleep(0.1)
    return None


async def product_fanout(stack: Stack, n: int) -> tuple[int, float, float, float, float]:
    """(campaign id, launch request seconds, seconds to every partner workflow started, to
    every partner campaign drafting, to every invitation sent), from the launch request."""
    cid = stack.make_campaign("Bench fan-out")
    not_invited = col(PartnerCampaign.state) != "invited"
    start = time.perf_counter()
    resp = await stack.api.post(f"/api/v1/campaigns/{cid}/launch", headers=stack.hq)
    launch = time.perf_counter() - start
    if resp.status_code != 200:
        raise SystemExit(f"launch failed: {resp.status_code} {resp.text}")
    started = await wait_for_starts(stack, cid, n)
    drafting = await stack.wait_for(cid, not_invited, n, limit=1800)
    if started is None or drafting is None:
        raise SystemExit(f"not every partner campaign left 'invited' (campaign {cid})")
    drafting = time.perf_counter() - start
    invited = await wait_for_invitations(stack, cid, RECIPIENTS * n)
    if invited is None:
        raise SystemExit(f"not every invitation was sent (campaign {cid})")
    return cid, launch, launch + started, drafting, time.perf_counter() - start


async def history_figures(client: Client, wid: str) -> str:
    """Events and bytes of a workflow's history: as fetched (JSON) and as the server counts."""
    handle = client.get_workflow_handle(wid)
    history = await handle.fetch_history()
    info = (await handle.describe()).raw_description.workflow_execution_info
    return (
        f"{len(history.events):,} events, {len(history.to_json()) / 1024:,.0f} KiB JSON "
        f"(server: {info.history_length:,} events, {info.history_size_bytes / 1024:,.0f} KiB)"
    )


async def histories(stack: Stack, cid: int, n: int, when: str) -> list[tuple[str, str]]:
    wid = campaign_workflow_id(cid)
    rows = [(f"history {when}: campaign", await history_figures(stack.client, wid))]
    if n > MAX_CHILDREN:
        shards = campaign_workflows(cid, n)
        figures = [await history_figures(stack.client, shard) for shard in shards]
        rows.append((f"history {when}: shard 0", figures[0]))
        rows.append((f"history {when}: shard {len(shards) - 1}", figures[-1]))
    sample = partner_campaign_workflow_id(cid, stack.partners[0].partner_id)
    rows.append((f"history {when}: a partner", await history_figures(stack.client, sample)))
    return rows


async def read_counts(stack: Stack, cid: int) -> str:
    """What the API's campaign read shows: partner campaigns per state."""
    resp = await stack.api.get(f"/api/v1/campaigns/{cid}", headers=stack.hq)
    counts = resp.json().get("counts", {}) if resp.status_code == 200 else {}
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or str(resp.status_code)


async def watched(
    stack: Stack, cid: int, label: str, wait: Awaitable[float | None]
) -> float | None:
    """Await `wait`, printing the API's campaign read every PROGRESS seconds meanwhile."""
    task = asyncio.ensure_future(wait)
    start = time.perf_counter()
    while True:
        done, _ = await asyncio.wait({task}, timeout=PROGRESS)
        if done:
            return task.result()
        elapsed = time.perf_counter() - start
        print(f"  {label} +{elapsed:.0f} s: {await read_counts(stack, cid)}", flush=True)


def _open_tasks_due(engine: Engine, cid: int, until: datetime) -> int:
    with Session(engine) as s:
        stmt = select(func.count()).where(
            ApprovalTask.campaign_id == cid,
            ApprovalTask.kind == TaskKind.personalise,
            col(ApprovalTask.open),
            col(ApprovalTask.due_at) >= until,
        )
        return int(s.exec(stmt).one())


async def time_extend(stack: Stack, cid: int, n: int) -> str:
    """Extend by a day; seconds until every open personalise task falls due at the new end
    (the signal activity moves them once the partner workflows are told)."""
    read = await stack.api.get(f"/api/v1/campaigns/{cid}", headers=stack.hq)
    until = datetime.fromisoformat(read.json()["personalise_until"]) + timedelta(days=1)
    start = time.perf_counter()
    resp = await stack.api.post(
        f"/api/v1/campaigns/{cid}/extend",
        json={"personalise_until": until.isoformat()},
        headers=stack.hq,
    )
    request = time.perf_counter() - start
    if resp.status_code != 200:
        return f"extend refused: {resp.status_code} {resp.text[:200]}"

    async def moved() -> float | None:
        while time.perf_counter() - start < 1800:
            if await asyncio.to_thread(_open_tasks_due, stack.engine, cid, until) >= n:
                return time.perf_counter() - start
            await asyncio.sleep(0.2)
        return None

    done = await watched(stack, cid, "extend", moved())
    if done is None:
        return f"extend: not every task moved after 1800 s (request {request * 1000:,.0f} ms)"
    return f"{n:,} partners told in {done:.1f} s (request {request * 1000:,.0f} ms)"


async def time_add(stack: Stack, cid: int, n: int) -> str:
    """Add the extra partners; seconds until every one is drafting and invited."""
    ids = [p.partner_id for p in stack.extra_partners]
    before = await asyncio.to_thread(_invitations, stack.engine, cid)
    start = time.perf_counter()
    resp = await stack.api.post(
        f"/api/v1/campaigns/{cid}/partners", json={"partners": ids}, headers=stack.hq
    )
    request = time.perf_counter() - start
    if resp.status_code != 201:
        return f"add refused: {resp.status_code} {resp.text[:200]}"
    drafting = await watched(
        stack,
        cid,
        "add",
        stack.wait_for(cid, col(PartnerCampaign.state) == "drafting", n + len(ids), 1800),
    )
    invited = await wait_for_invitations(stack, cid, before + RECIPIENTS * len(ids))
    if drafting is None or invited is None:
        return f"add: not every added partner drafting and invited (request {request:.1f} s)"
    total = time.perf_counter() - start
    return (
        f"{len(ids):,} partners drafting after {drafting:.1f} s, invited after {total:.1f} s "
        f"(request {request * 1000:,.0f} ms)"
    )


async def time_cancel(stack: Stack, cid: int) -> str:
    """Cancel through the API; seconds until every partner campaign is final."""
    start = time.perf_counter()
    resp = await stack.api.post(f"/api/v1/campaigns/{cid}/cancel", headers=stack.hq)
    request = time.perf_counter() - start
    if resp.status_code != 200:
        return f"cancel refused: {resp.status_code} {resp.text[:200]}"
    total = await stack.count(cid, text("1 = 1"))
    final = col(PartnerCampaign.state).in_(FINAL_STATES)
    done = await watched(stack, cid, "cancel", stack.wait_for(cid, final, total, 1800, 0.2))
    if done is None:
        return "cancel: not every partner campaign final after 1800 s"
    return f"{total:,} partner campaigns final in {done:.1f} s (request {request * 1000:,.0f} ms)"


async def wait_closed(stack: Stack, cid: int, limit: float = 600) -> None:
    """Until the campaign workflow has closed (its summary projected)."""
    handle = stack.client.get_workflow_handle(campaign_workflow_id(cid))
    await asyncio.wait_for(handle.result(), limit)


async def run(
    partners: int, database_url: str | None, extend: bool, add: int, skip: set[str]
) -> None:
    t0 = time.perf_counter()
    async with campaign_stack(partners, database_url, extra_partners=add) as stack:
        setup = time.perf_counter() - t0
        load = [f"{x:.2f}" for x in os.getloadavg()]
        run_id = uuid.uuid4().hex[:8]
        queue = f"bench-trivial-{run_id}"
        async with Worker(stack.client, task_queue=queue, workflows=[Trivial, TrivialParent]):
            await bare_starts(stack.client, queue, WARM_UP, f"{run_id}-warm")  # server warm-up
            cid, launch, started, drafting, invited = await product_fanout(stack, partners)
            after_fanout = await histories(stack, cid, partners, "after fan-out")
            product_rows = [
                ("database", stack.engine.dialect.name),
                ("partners", f"{partners:,} (set-up {setup:.1f} s, load average {' '.join(load)})"),
                *(("note", note) for note in stack.notes),
                ("launch request", f"{launch * 1000:,.0f} ms"),
                ("all partners started", f"{started:.2f} s"),
                ("all partners drafting", f"{drafting:.2f} s ({partners / drafting:,.0f}/s)"),
                ("all partners invited", f"{invited:.2f} s ({RECIPIENTS * partners:,} emails)"),
                ("product", f"{partners / started:,.0f} partner workflows started/s"),
            ]
            for label, value in product_rows:  # now: a failing baseline must not lose them
                print(f"{label:<30} {value}", flush=True)
            bare_started, bare_done = await bare_starts(stack.client, queue, partners, run_id)
            looped = (
                None if "loop" in skip else await bare_loop(stack.client, queue, partners, run_id)
            )
            parent = (
                None
                if "parent" in skip
                else await parent_starts(stack.client, queue, partners, run_id)
            )
        product_rate = partners / started
        bare_rate = partners / bare_started
        rows = [
            (
                "bare concurrent starts",
                f"{bare_rate:,.0f} workflows started/s ({bare_started:.2f} s, 100 in flight; "
                f"all completed after {bare_done:.2f} s)",
            ),
            (
                "ratio",
                f"{product_rate / bare_rate:.2f} (product / bare starts with 100 in flight, "
                f"goal >= {GOAL})",
            ),
        ]
        if looped is not None:
            loop_rate = partners / looped
            rows += [
                ("bare start_workflow loop", f"{loop_rate:,.0f} started/s ({looped:.2f} s)"),
                ("ratio to the loop", f"{product_rate / loop_rate:.2f} (weaker baseline)"),
            ]
        if parent is not None:
            parent_rate = partners / parent
            rows += [
                ("bare children of a parent", f"{parent_rate:,.0f} started/s ({parent:.2f} s)"),
                ("ratio to parent starts", f"{product_rate / parent_rate:.2f} (children)"),
            ]
        rows += after_fanout
        for label, value in rows:
            print(f"{label:<30} {value}", flush=True)
        if extend:
            print(f"{'extend':<30} {await time_extend(stack, cid, partners)}", flush=True)
        if add:
            print(f"{'add partners':<30} {await time_add(stack, cid, partners)}", flush=True)
        print(f"{'cancel':<30} {await time_cancel(stack, cid)}", flush=True)
        await wait_closed(stack, cid)
        for label, value in await histories(stack, cid, partners, "after cancel"):
            print(f"{label:<30} {value}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--partners", type=int, default=1000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--extend", action="store_true", help="time an extension of the window")
    parser.add_argument("--add", type=int, default=0, help="time adding this many partners")
    parser.add_argument(
        "--skip", default="", help="comma-separated weaker baselines to leave out: loop, parent"
    )
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    asyncio.run(run(args.partners, args.database_url, args.extend, args.add, skip))


if __name__ == "__main__":
    main()
