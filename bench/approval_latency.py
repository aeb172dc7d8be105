"""GM approval latency: from the decision request to 'approved' readable through the API.

    python -m bench.approval_latency [--decisions 200] [--database-url URL]

The whole product in one process (bench.campaign_stack: dev server, in-process workers, the
API over ASGI, a fresh SQLite file). A campaign is launched to `--decisions` generated
partners; once every partner is drafting, each partner's editor saves valid content and
submits (not timed). Then, one GM after another, the clock runs from sending
POST /api/v1/partner-campaigns/{id}/decision {"decision": "approve"} until a GET of that
partner campaign (sent as soon as the POST returns, repeated until it shows it) reads
state 'approved'. The POST returns after the workflow's Update, whose handler projects the
transition (row, inbox tasks, audit event) before answering, so one GET normally does.
Goal: p95 under 300 ms.

Baselines, in the same run on the same server, sequential as well: a Temporal Update on a
trivial workflow (defined here, own worker and task queue) that returns at once, and one whose
handler first runs a no-op activity in a thread, as the product's handler runs its projection.
The campaign is cancelled at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlmodel import col
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from bench.campaign_stack import BenchPartner, Stack, campaign_stack, percentile
from models.campaigns import PartnerCampaign

GOAL_P95_MS = 300.0
PREPARE_CONCURRENCY = 8


@activity.defn(name="bench_noop")
def noop() -> None:
    """Nothing: what an activity round trip costs without the work."""


@workflow.defn(name="BenchDecision", sandboxed=False)
class BareDecision:
    """Pending until one Update decides; the Update may run an activity first."""

    def __init__(self) -> None:
        self.state = "pending_gm"

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.state != "pending_gm")
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
            if submitted.status_code != 200 or submitted.json()["state"] != "pending_gm":
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


async def decide_all(stack: Stack, pcids: dict[int, int]) -> Decisions:
    out = Decisions()
    loop_start = time.perf_counter()
    for p in stack.partners:
        url = f"/api/v1/partner-campaigns/{pcids[p.partner_id]}"
        headers = stack.headers(p.gm_id)
        start = time.perf_counter()
        resp = await stack.api.post(
            f"{url}/decision", json={"decision": "approve"}, headers=headers
        )
        posted = time.perf_counter()
        if resp.status_code != 200:
            out.errors.append(f"{resp.status_code} {resp.text[:200]}")
            continue
        gets = 0
        while True:
            gets += 1
            seen = await stack.api.get(url, headers=headers)
            if seen.status_code == 200 and seen.json()["state"] == "approved":
                break
            if gets >= 2000:
                out.errors.append(f"never approved: {seen.status_code} {seen.text[:200]}")
                break
            await asyncio.sleep(0.005)
        done = time.perf_counter()
        out.total_ms.append((done - start) * 1000)
        out.post_ms.append((posted - start) * 1000)
        out.gets.append(gets)
    out.seconds = time.perf_counter() - loop_start
    return out


async def bare_updates(
    handles: list[WorkflowHandle[BareDecision, str]], project: bool
) -> list[float]:
    """Milliseconds per Update, one after another."""
    out: list[float] = []
    for handle in handles:
        start = time.perf_counter()
        await handle.execute_update(BareDecision.decide, project)
        out.append((time.perf_counter() - start) * 1000)
    return out


async def start_bare(client: Client, queue: str, n: int) -> list[WorkflowHandle[BareDecision, str]]:
    async def one(i: int) -> WorkflowHandle[BareDecision, str]:
        return await client.start_workflow(BareDecision.run, id=f"{queue}-{i}", task_queue=queue)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


# Report ------------------------------------------------------------------------------------------


def summary(values: list[float]) -> str:
    if not values:
        return "no samples"
    p50, p95 = percentile(values, 50), percentile(values, 95)
    return f"p50 {p50:6.1f}  p95 {p95:6.1f}  max {max(values):6.1f} ms"


async def run(n: int, database_url: str | None) -> None:
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
                for note in stack.notes:
                    print(f"{'note':<28} {note}")
                cid, drafting = await launch_and_wait(stack, n)
                print(f"{'launch until all drafting':<28} {drafting:.1f} s ({n} partners)")
                pcids = stack.partner_campaign_ids(cid)
                prepared = await prepare(stack, pcids)
                print(f"{'content + submit (untimed)':<28} {prepared:.1f} s", flush=True)
                product = await decide_all(stack, pcids)
                update_only = await bare_updates(bare[:n], project=False)
                with_activity = await bare_updates(bare[n:], project=True)
        count = len(product.total_ms)
        p95 = percentile(product.total_ms, 95)
        extra = sum(1 for g in product.gets if g > 1)
        rows = [
            ("decisions", f"{count} approved, {len(product.errors)} failed"),
            ("decision -> approved read", summary(product.total_ms)),
            ("  of which the POST", summary(product.post_ms)),
            ("GETs per decision", f"{sum(product.gets) / max(count, 1):.2f} ({extra} needed more)"),
            ("rate (sequential)", f"{count / product.seconds:.1f} decisions/s"),
            ("bare Update", summary(update_only)),
            ("bare Update + activity", summary(with_activity)),
            (
                "ratio",
                f"{p95 / percentile(with_activity, 95):.1f}x (p95 product / bare + activity)",
            ),
            (
                "goal",
                f"p95 < {GOAL_P95_MS:.0f} ms: {'met' if p95 < GOAL_P95_MS else 'missed'}",
            ),
        ]
        for label, value in rows:
            print(f"{label:<28} {value}", flush=True)
        for error in product.errors[:5]:
            print(f"{'error':<28} {error}")
        print(f"{'cleanup':<28} {await stack.cancel(cid)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=200)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    asyncio.run(run(args.decisions, args.database_url))


if __name__ == "__main__":
    main()
