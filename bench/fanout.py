"""Campaign fan-out: launching to many partners against bare workflow starts on the same server.

    python -m bench.fanout [--partners 1000] [--database-url URL]

The whole product in one process (bench.campaign_stack: dev server, in-process workers, the
API over ASGI, a fresh SQLite file). A draft campaign targets a region of `--partners`
generated partners and is launched through POST /api/v1/campaigns/{id}/launch. Two clocks run
from that request: until the campaign workflow reports every partner workflow started (its
`started_count` query, asked every 20 ms) - the product's start rate - and until every partner
campaign row has left `invited` (each partner workflow's first transition, projected by an
activity, moves it to drafting).

The baseline, in the same run on the same server (trivial workflows defined here, returning at
once, on a worker and task queue of their own): a bare client start_workflow loop, one start
after the other, as the issue names it; ratio product / loop, goal >= 0.8. For scale: the same
starts with 100 in flight (asyncio.gather in batches), and the same number of trivial children
started by one trivial parent in gathered batches of 100. The campaign is cancelled at the end;
that time is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from sqlmodel import col
from temporalio import workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.worker import Worker
from temporalio.workflow import ParentClosePolicy

from bench.campaign_stack import Stack, campaign_stack, gather_in_batches
from domain.workflow_ids import campaign_workflow_id
from models.campaigns import PartnerCampaign
from workflows.campaign import CampaignWorkflow

BATCH = 100  # as activities.fanout.WINDOW
WARM_UP = 20
GOAL = 0.8


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
    await asyncio.gather(*(h.result() for h in handles))
    return started, time.perf_counter() - start


async def parent_starts(client: Client, task_queue: str, n: int, run: str) -> float:
    """Seconds until a trivial parent has started `n` trivial children."""
    start = time.perf_counter()
    await client.execute_workflow(
        TrivialParent.run, n, id=f"bench-parent-{run}", task_queue=task_queue
    )
    return time.perf_counter() - start


async def wait_for_starts(stack: Stack, cid: int, n: int, limit: float = 600) -> float | None:
    """Seconds until the campaign workflow has started `n` partner workflows (asked by query
    every 20 ms; the count moves by one start page at a time)."""
    handle = stack.client.get_workflow_handle(campaign_workflow_id(cid))
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        try:
            if await handle.query(CampaignWorkflow.started_count) >= n:
                return time.perf_counter() - start
        except RPCError:  # not started yet
            pass
        await asyncio.sleep(0.02)
    return None


async def product_fanout(stack: Stack, n: int) -> tuple[int, float, float, float]:
    """(campaign id, launch request seconds, seconds to every partner workflow started, seconds
    to every partner campaign in drafting), all from the start of the launch request."""
    cid = stack.make_campaign("Bench fan-out")
    not_invited = col(PartnerCampaign.state) != "invited"
    start = time.perf_counter()
    resp = await stack.api.post(f"/api/v1/campaigns/{cid}/launch", headers=stack.hq)
    launch = time.perf_counter() - start
    if resp.status_code != 200:
        raise SystemExit(f"launch failed: {resp.status_code} {resp.text}")
    started = await wait_for_starts(stack, cid, n)
    everyone = await stack.wait_for(cid, not_invited, n, limit=1800)
    if started is None or everyone is None:
        raise SystemExit(f"not every partner campaign left 'invited' (campaign {cid})")
    return cid, launch, launch + started, time.perf_counter() - start


async def run(partners: int, database_url: str | None) -> None:
    t0 = time.perf_counter()
    async with campaign_stack(partners, database_url) as stack:
        setup = time.perf_counter() - t0
        run_id = uuid.uuid4().hex[:8]
        queue = f"bench-trivial-{run_id}"
        async with Worker(stack.client, task_queue=queue, workflows=[Trivial, TrivialParent]):
            await bare_starts(stack.client, queue, WARM_UP, f"{run_id}-warm")  # server warm-up
            cid, launch, started, everyone = await product_fanout(stack, partners)
            looped = await bare_loop(stack.client, queue, partners, run_id)
            bare_started, bare_done = await bare_starts(stack.client, queue, partners, run_id)
            parent = await parent_starts(stack.client, queue, partners, run_id)
        product_rate = partners / started
        loop_rate = partners / looped
        bare_rate = partners / bare_started
        parent_rate = partners / parent
        rows = [
            ("database", stack.engine.dialect.name),
            ("partners", f"{partners} (set-up {setup:.1f} s)"),
            *(("note", note) for note in stack.notes),
            ("launch request", f"{launch * 1000:,.0f} ms"),
            ("all partners started", f"{started:.2f} s"),
            ("all partners drafting", f"{everyone:.2f} s ({partners / everyone:,.0f}/s)"),
            ("product", f"{product_rate:,.0f} partner workflows started/s"),
            ("bare start_workflow loop", f"{loop_rate:,.0f} started/s ({looped:.2f} s)"),
            (
                "bare concurrent starts",
                f"{bare_rate:,.0f} workflows started/s ({bare_started:.2f} s, 100 in flight; "
                f"all completed after {bare_done:.2f} s)",
            ),
            ("bare children of a parent", f"{parent_rate:,.0f} started/s ({parent:.2f} s)"),
            ("ratio", f"{product_rate / loop_rate:.2f} (product / bare loop, goal >= {GOAL})"),
            ("ratio to concurrent", f"{product_rate / bare_rate:.2f} (product / 100 in flight)"),
            ("ratio to parent starts", f"{product_rate / parent_rate:.2f} (product / children)"),
        ]
        for label, value in rows:
            print(f"{label:<26} {value}", flush=True)
        print(f"{'cleanup':<26} {await stack.cancel(cid)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--partners", type=int, default=1000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    asyncio.run(run(args.partners, args.database_url))


if __name__ == "__main__":
    main()
