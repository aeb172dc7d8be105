"""Sending: one partner campaign to many recipients through SendWorkflow and the outbox.

    python -m bench.send [--recipients 100000] [--small 10000] [--bare 10000]

The whole product in one process (bench.campaign_stack: dev server, in-process workers on every
registry queue, a fresh SQLite file, the outbox transport writing .eml files and rows). Two
partner campaigns are sent, first to `--small` then to `--recipients` generated, consented
contacts: the SendWorkflow is started directly (the approval chain before it is measured by
bench.approval_latency) and the clock runs until its result. Peak RSS of this process - the
worker, since everything runs here - is sampled every 100 ms during each send.

The baseline, in the same run: a bare loop over `--bare` recipients that renders the same
content for each (the same compose function, so the same template, CSS inlining, unsubscribe
link and headers) and writes the same .eml files through the same outbox writer, without
Temporal, the ledger or any database row. Printed: messages per second for each, the ratio
product / bare (goal >= 0.6), peak RSS (goal < 300 MB), and the per-message cost at both sizes
(goal: the large send's within 20% of the small one's).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import Session

from bench.campaign_stack import Stack, campaign_stack
from domain.states import PartnerCampaignState
from mail.transport import OutboxTransport
from models.campaigns import PartnerCampaign
from models.contacts import Contact
from models.delivery import Delivery
from models.workflow_io import SendInput, SendResult
from services.delivery import compose_delivery, load_context
from workflows.send import SendWorkflow

INSERT_CHUNK = 5_000
GOAL_RATIO = 0.6
GOAL_RSS_MB = 300
GOAL_SCALE = 1.2


def rss_mb() -> float:
    """This process's resident set size now (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """Samples RSS in the background while a send runs."""

    def __init__(self) -> None:
        self.peak = rss_mb()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mb())
            await asyncio.sleep(0.1)

    def __enter__(self) -> PeakRss:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.peak = max(self.peak, rss_mb())


def add_contacts(stack: Stack, partner_index: int, n: int) -> None:
    partner = stack.partners[partner_index]
    run = uuid.uuid4().hex[:6]
    with Session(stack.engine) as s:
        for start in range(0, n, INSERT_CHUNK):
            rows = [
                {
                    "brand_id": stack.brand_id,
                    "partner_id": partner.partner_id,
                    "email": f"r{i}.{run}@customers.example",
                    "name": f"Recipient {i}",
                    "locale": "en",
                    "consent_status": "granted",
                    "consent_source": "bench",
                    "tags": [],
                    "attributes": {},
                }
                for i in range(start, min(n, start + INSERT_CHUNK))
            ]
            s.execute(insert(Contact), rows)
            s.commit()


def approved_partner_campaign(stack: Stack, partner_index: int, name: str) -> int:
    partner = stack.partners[partner_index]
    campaign_id = stack.make_campaign(name, state="running")
    with Session(stack.engine) as s:
        row = PartnerCampaign(
            campaign_id=campaign_id,
            brand_id=stack.brand_id,
            region_id=stack.region_id,
            partner_id=partner.partner_id,
            state=PartnerCampaignState.sending,
            values=stack.valid_values(),
            workflow_id=f"bench-{uuid.uuid4().hex[:8]}",
        )
        s.add(row)
        s.commit()
        assert row.id is not None
        return row.id


async def product_send(stack: Stack, pcid: int) -> tuple[float, float, SendResult]:
    """(seconds, peak RSS MB, result) for one SendWorkflow from start to result."""
    settings = stack.settings
    with PeakRss() as rss:
        start = time.perf_counter()
        result: SendResult = await stack.client.execute_workflow(
            SendWorkflow.run,
            SendInput(
                partner_campaign_id=pcid,
                campaign_id=0,
                brand_id=stack.brand_id,
                partner_id=0,
                delivery_task_queue=settings.temporal_delivery_task_queue,
            ),
            id=f"bench-send-{pcid}-{uuid.uuid4().hex[:6]}",
            task_queue=settings.temporal_task_queue,
        )
        seconds = time.perf_counter() - start
    return seconds, rss.peak, result


def bare_loop(stack: Stack, pcid: int, n: int) -> float:
    """Seconds to render and write `n` messages the product's way, minus Temporal and ledger."""
    directory = Path(tempfile.mkdtemp(prefix="brandrelay-bare-"))
    writer = OutboxTransport(directory)
    try:
        with Session(stack.engine) as s:
            ctx = load_context(s, stack.settings, pcid)
            start = time.perf_counter()
            for i in range(n):
                email = f"bare{i}@customers.example"
                delivery = Delivery(
                    id=i + 1,
                    partner_campaign_id=pcid,
                    brand_id=stack.brand_id,
                    partner_id=ctx.pc.partner_id,
                    contact_id=i + 1,
                    email=email,
                )
                contact = Contact(
                    brand_id=stack.brand_id,
                    partner_id=ctx.pc.partner_id,
                    email=email,
                    name=f"Recipient {i}",
                    locale="en",
                )
                writer.send(compose_delivery(s, ctx, delivery, contact))
            return time.perf_counter() - start
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def run(recipients: int, small: int, bare: int) -> None:
    async with campaign_stack(2) as stack:
        print(f"{'database':<28} {stack.engine.dialect.name}", flush=True)
        t = time.perf_counter()
        add_contacts(stack, 0, small)
        add_contacts(stack, 1, recipients)
        inserted = time.perf_counter() - t
        print(f"{'contacts inserted':<28} {small + recipients:,} in {inserted:.1f} s")
        small_pc = approved_partner_campaign(stack, 0, "Bench send small")
        large_pc = approved_partner_campaign(stack, 1, "Bench send large")

        bare_seconds = await asyncio.to_thread(bare_loop, stack, small_pc, bare)
        bare_rate = bare / bare_seconds
        print(
            f"{'bare render + write':<28} {bare_rate:,.0f} messages/s "
            f"({bare:,} in {bare_seconds:.1f} s)"
        )

        results = []
        for pcid, n in ((small_pc, small), (large_pc, recipients)):
            seconds, peak, result = await product_send(stack, pcid)
            sent = result.counts.get("sent", 0)
            if sent != n:
                raise SystemExit(f"sent {sent} of {n}: {result.counts}")
            results.append((n, seconds, peak))
            print(
                f"{f'product, {n:,} recipients':<28} {n / seconds:,.0f} messages/s "
                f"({seconds:.1f} s, {seconds / n * 1000:.2f} ms/message, peak RSS {peak:.0f} MB)",
                flush=True,
            )
        (n_small, s_small, _), (n_large, s_large, _) = results
        peak = max(p for _, _, p in results)
        scale = (s_large / n_large) / (s_small / n_small)
        ratio = (n_large / s_large) / bare_rate
        print(f"{'ratio':<28} {ratio:.2f} (product at {n_large:,} / bare, goal >= {GOAL_RATIO})")
        print(f"{'peak RSS':<28} {peak:.0f} MB (goal < {GOAL_RSS_MB} MB)")
        print(
            f"{'per-message cost':<28} {scale:.2f}x at {n_large:,} vs {n_small:,} "
            f"(goal <= {GOAL_SCALE})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--bare", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(run(args.recipients, args.small, args.bare))


if __name__ == "__main__":
    main()
