"""GM approval latency: from the decision request to 'approved' readable through the API.

    python -m bench.approval_latency [--decisions 200] [--concurrency 1] [--database-url URL]
    python -m bench.approval_latency --decisions 50 --concurrency 50 [--profile]

The whole product in one process (bench.campaign_stack: dev server, in-process workers, the
API over ASGI, a fresh SQLite file). A campaign is launched to `--decisions` generated
partners; once every partner is drafting, each partner's editor saves valid content and
submits (not timed); the campaign uses the built-in `gm` approval policy (one GM stage), so
every partner campaign waits in 'pending_approval'. Then the clock runs from sending
POST /api/v1/partner-campaigns/{id}/decision {"decision": "approve"} until a GET of that
partner campaign (sent as soon as the POST returns, repeated until it shows it) reads
state 'approved'. The POST returns after the workflow's Update, whose handler projects the
transition (row, inbox tasks, audit event) before answering, so one GET normally does.

--concurrency 1 (the default): one GM after another; goal p95 under 300 ms.
--concurrency N: rounds of N distinct GMs (distinct partners) released at the same moment
(they all wait on one event, then send); every decision in a round is timed from that release,
so time spent queueing behind the others in this process counts. Goal for N = 50: p95 under
150 ms. Throughput is decisions over the summed wall time of the rounds.

Baselines, in the same run on the same server and at the same concurrency (rounds of N, each
released at once, so N Updates are in flight): a Temporal Update on a trivial workflow (defined
here, own worker and task queue) that returns at once, and one whose handler first runs a no-op
activity in a thread, as the product's handler runs its projection. The ratios are product p95
over each baseline's p95; the issue's ratio is the one against the bare Update. The campaign is
cancelled at the end. Timings on a shared machine are noisy: compare figures from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

from sqlmodel import col
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from bench.campaign_stack import BenchPartner, Stack, campaign_stack, percentile
from domain.states import PartnerCampaignState
from models.campaigns import PartnerCampaign

T = TypeVar("T")

GOAL_P95_MS = 300.0  # sequential
GOAL_CONCURRENT_P95_MS = 150.0  # 50 approvers at once
PREPARE_CONCURRENCY = 8


@activity.defn(name="bench_noop")
def noop() -> None:
    """Nothing: what an activity round trip costs without the work."""


@workflow.defn(name="BenchDecision", sandboxed=False)
class BareDecision:
    """Pending until one Update decides; the Update may run an activity first."""

    def __init__(self) -> None:
        self.state = "pending_approval"

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.state != "pending_approval")
        return self.state

    @workflow.update
    async def decide(self, project: bool) -> str:
        if project:
            await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=30))
        self.state = "approved"
        return self.state


# Measurements ------------------------------------------------------------------------------------


async def launch_and_wait(stack: Stack, n: int) -> tuple[int, float]:
    """(campaign id, seconds until every partner is drafting)."""
    cid = stack.make_campaign("Bench approvals")
    start = time.perf_counter()
    resp = await stack.api.post(f"/api/v1/campaigns/{cid}/launch", headers=stack.hq)
    if resp.status_code != 200:
        raise SystemExit(f"launch failed: {resp.status_code} {resp.text}")
    drafting = col(PartnerCampaign.state) == "drafting"
    if await stack.wait_for(cid, drafting, n, limit=1800) is None:
        raise SystemExit(f"not every partner campaign reached drafting (campaign {cid})")
    return cid, time.perf_counter() - start


async def prepare(stack: Stack, pcids: dict[int, int]) -> float:
    """Every editor saves content and submits; seconds (a few partners at a time)."""
    gate = asyncio.Semaphore(PREPARE_CONCURRENCY)
    values = stack.valid_values()

    async def one(p: BenchPartner) -> None:
        url = f"/api/v1/partner-campaigns/{pcids[p.partner_id]}"
        headers = stack.headers(p.editor_id)
        async with gate:
            saved = await stack.api.put(f"{url}/content", json={"values": values}, headers=headers)
            if saved.status_code != 200:
                raise SystemExit(f"save failed: {saved.status_code} {saved.text}")
            submitted = await stack.api.post(f"{url}/submit", headers=headers)
            state = submitted.json().get("state") if submitted.status_code == 200 else None
            if state != PartnerCampaignState.pending_approval:
                raise SystemExit(f"submit failed: {submitted.status_code} {submitted.text}")

    start = time.perf_counter()
    await asyncio.gather(*(one(p) for p in stack.partners))
    return time.perf_counter() - start


class Decisions:
    def __init__(self) -> None:
        self.total_ms: list[float] = []
        self.post_ms: list[float] = []
        self.gets: list[int] = []
        self.errors: list[str] = []
        self.seconds = 0.0


async def one_round(batch: list[T], one: Callable[[T, float], Awaitable[None]]) -> float:
    """Every `one(item, release_time)` of the batch waits at one barrier, then all go at once;
    seconds from the release until the last finished."""
    barrier = asyncio.Barrier(len(batch) + 1)
    release: list[float] = []

    async def waiter(item: T) -> None:
        await barrier.wait()
        await one(item, release[0])

    tasks = [asyncio.create_task(waiter(item)) for item in batch]
    await asyncio.sleep(0)  # one pass of the loop: every new task runs to the barrier
    assert barrier.n_waiting == len(batch)
    release.append(time.perf_counter())
    await barrier.wait()  # the last to arrive: every waiter is released with it
    await asyncio.gather(*tasks)
    return time.perf_counter() - release[0]


async def released(
    concurrency: int, items: list[T], one: Callable[[T, float], Awaitable[None]]
) -> float:
    """Rounds of `concurrency` items, each released at once; seconds summed over the rounds."""
    total = 0.0
    for first in range(0, len(items), concurrency):
        total += await one_round(items[first : first + concurrency], one)
    return total


async def decide_all(stack: Stack, pcids: dict[int, int], concurrency: int) -> Decisions:
    out = Decisions()

    async def one(p: BenchPartner, release: float) -> None:
        url = f"/api/v1/partner-campaigns/{pcids[p.partner_id]}"
        headers = stack.headers(p.gm_id)
        start = release if concurrency > 1 else time.perf_counter()
        resp = await stack.api.post(
            f"{url}/decision", json={"decision": "approve"}, headers=headers
        )
        posted = time.perf_counter()
        if resp.status_code != 200:
            out.errors.append(f"{resp.status_code} {resp.text[:200]}")
            return
        gets = 0
        while True:
            gets += 1
            seen = await stack.api.get(url, headers=headers)
            if seen.status_code == 200 and seen.json()["state"] == PartnerCampaignState.approved:
                break
            if gets >= 2000:
                out.errors.append(f"never approved: {seen.status_code} {seen.text[:200]}")
                break
            await asyncio.sleep(0.005)
        done = time.perf_counter()
        out.total_ms.append((done - start) * 1000)
        out.post_ms.append((posted - start) * 1000)
        out.gets.append(gets)

    out.seconds = await released(concurrency, stack.partners, one)
    return out


async def bare_updates(
    handles: list[WorkflowHandle[BareDecision, str]], project: bool, concurrency: int
) -> tuple[list[float], float]:
    """Milliseconds per Update, `concurrency` released at once (as the product's decisions);
    and seconds summed over the rounds."""
    out: list[float] = []

    async def one(handle: WorkflowHandle[BareDecision, str], release: float) -> None:
        start = release if concurrency > 1 else time.perf_counter()
        await handle.execute_update(BareDecision.decide, project)
        out.append((time.perf_counter() - start) * 1000)

    seconds = await released(concurrency, handles, one)
    return out, seconds


async def start_bare(client: Client, queue: str, n: int) -> list[WorkflowHandle[BareDecision, str]]:
    async def one(i: int) -> WorkflowHandle[BareDecision, str]:
        return await client.start_workflow(BareDecision.run, id=f"{queue}-{i}", task_queue=queue)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


# Where the time goes ----------------------------------------------------------------------------

_WFT = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED: "scheduled",
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED: "started",
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: "completed",
}


async def phases(client: Client, workflow_ids: list[str]) -> dict[str, list[float]]:
    """From each partner workflow's history (server timestamps), the decision's Update split
    into: the workflow task that accepts it (waiting for a worker, running), each activity its
    handler awaits (waiting for a slot, running: the projection's DB writes) and the workflow
    task that completes it; milliseconds per phase. What the POST took beyond all of these is
    the HTTP request, the API's reads and the client's RPCs."""
    out: dict[str, list[float]] = {}

    def add(name: str, start: float, end: float) -> None:
        out.setdefault(name, []).append((end - start) * 1000)

    for workflow_id in workflow_ids:
        events = (await client.get_workflow_handle(workflow_id).fetch_history()).events
        at = [e.event_time.ToMicroseconds() / 1e6 for e in events]
        accepted = max(
            i
            for i, e in enumerate(events)
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        )
        completed = next(
            i
            for i in range(accepted, len(events))
            if events[i].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED
        )
        wft: dict[str, float] = {}
        for i in range(accepted, -1, -1):  # the workflow task that accepted the Update
            kind = _WFT.get(events[i].event_type)
            if kind is not None and kind not in wft:
                wft[kind] = at[i]
            if kind == "scheduled":
                break
        add("accepting task: queued", wft["scheduled"], wft["started"])
        add("accepting task: run", wft["started"], wft["completed"])
        scheduled: dict[int, tuple[str, float]] = {}
        started: dict[int, float] = {}
        last_wft = at[accepted]
        for i in range(accepted, completed + 1):
            e = events[i]
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                name = e.activity_task_scheduled_event_attributes.activity_type.name
                scheduled[e.event_id] = (name, at[i])
            elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                sid = e.activity_task_started_event_attributes.scheduled_event_id
                started[sid] = at[i]
                add(f"{scheduled[sid][0]}: queued", scheduled[sid][1], at[i])
            elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                sid = e.activity_task_completed_event_attributes.scheduled_event_id
                add(f"{scheduled[sid][0]}: run", started[sid], at[i])
            elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
                last_wft = at[i]
        add("completing task (scheduled -> done)", last_wft, at[completed])
        add("Update accepted -> completed", at[accepted], at[completed])
        add("task scheduled -> Update completed", wft["scheduled"], at[completed])
    return out


# Report ------------------------------------------------------------------------------------------


def summary(values: list[float]) -> str:
    if not values:
        return "no samples"
    p50, p95 = percentile(values, 50), percentile(values, 95)
    return f"p50 {p50:6.1f}  p95 {p95:6.1f}  max {max(values):6.1f} ms"


def ratio(p95: float, baseline: list[float]) -> str:
    return f"{p95 / percentile(baseline, 95):.1f}x" if baseline else "n/a"


async def run(n: int, concurrency: int, database_url: str | None, profile: bool) -> None:
    mode = "sequential" if concurrency == 1 else f"{concurrency} at once"
    async with campaign_stack(n, database_url) as stack:
        queue = f"bench-decision-{uuid.uuid4().hex[:8]}"
        with ThreadPoolExecutor(4) as pool:
            async with Worker(
                stack.client,
                task_queue=queue,
                workflows=[BareDecision],
                activities=[noop],
                activity_executor=pool,
            ):
                bare = await start_bare(stack.client, queue, 2 * n)
                print(f"{'database':<28} {stack.engine.dialect.name}")
                print(f"{'concurrency':<28} {mode}")
                for note in stack.notes:
                    print(f"{'note':<28} {note}")
                cid, drafting = await launch_and_wait(stack, n)
                print(f"{'launch until all drafting':<28} {drafting:.1f} s ({n} partners)")
                pcids = stack.partner_campaign_ids(cid)
                prepared = await prepare(stack, pcids)
                print(f"{'content + submit (untimed)':<28} {prepared:.1f} s", flush=True)
                product = await decide_all(stack, pcids, concurrency)
                breakdown = await phases(stack.client, stack.workflow_ids(cid)) if profile else {}
                update_only, update_s = await bare_updates(bare[:n], False, concurrency)
                with_activity, activity_s = await bare_updates(bare[n:], True, concurrency)
        count = len(product.total_ms)
        p95 = percentile(product.total_ms, 95)
        extra = sum(1 for g in product.gets if g > 1)
        goal = GOAL_P95_MS if concurrency == 1 else GOAL_CONCURRENT_P95_MS
        verdict = "met" if p95 < goal else "missed"
        if product.errors:  # a run with failed decisions is not a figure
            verdict = f"not measured: {len(product.errors)} decisions failed"
        rows = [
            ("decisions", f"{count} approved, {len(product.errors)} failed"),
            ("decision -> approved read", summary(product.total_ms)),
            ("  of which the POST", summary(product.post_ms)),
            ("GETs per decision", f"{sum(product.gets) / max(count, 1):.2f} ({extra} needed more)"),
            (f"rate ({mode})", f"{count / product.seconds:.1f} decisions/s"),
            (f"bare Update ({mode})", summary(update_only)),
            ("  rate", f"{len(update_only) / update_s:.1f} Updates/s"),
            ("bare Update + activity", summary(with_activity)),
            ("  rate", f"{len(with_activity) / activity_s:.1f} Updates/s"),
            ("ratio (the issue's)", f"{ratio(p95, update_only)} (p95 product / bare Update)"),
            ("ratio", f"{ratio(p95, with_activity)} (p95 product / bare Update + activity)"),
            ("goal", f"p95 < {goal:.0f} ms ({mode}): {verdict}"),
        ]
        for label, value in rows:
            print(f"{label:<28} {value}", flush=True)
        for name, values in breakdown.items():
            print(f"  {name:<36} {summary(values)}", flush=True)
        for error in product.errors[:5]:
            print(f"{'error':<28} {error}")
        print(f"{'cleanup':<28} {await stack.cancel(cid)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--decisions", type=int, default=200)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="decisions released at once (1: sequential; the issue's concurrent run is 50)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="split each decision's Update into phases from the workflow histories",
    )
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.decisions < args.concurrency:
        parser.error("--decisions must be at least --concurrency")
    asyncio.run(run(args.decisions, args.concurrency, args.database_url, args.profile))


if __name__ == "__main__":
    main()
