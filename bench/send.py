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

Latency mode, against a provider that takes its time:

    python -m bench.send --latency [--recipients 20000] [--bare 5000] [--serial 500]
                         [--delay 0.04] [--concurrency 16]

A local SES v2 endpoint (bench.ses_endpoint, in a process of its own so it takes no time
from this one) answers every message after `--delay` seconds, any number at once; the
product sends through its real SES transport (boto3) with SEND_CONCURRENCY `--concurrency`
and a rate limit far above what is reached. Printed: the product's messages per second for
one partner's send of `--recipients`; the same run's bare loop that renders the same
messages in one thread and hands them to the same transport with the same concurrency, no
ledger and no Temporal, and the ratio (goal >= 0.8); peak RSS (goal < 300 MB); and the
product with SEND_CONCURRENCY=1 over `--serial` recipients (goal: the concurrent send at
least 10x as fast).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from bench.campaign_stack import Stack, campaign_stack
from core.settings import EmailTransport
from domain.states import PartnerCampaignState
from mail.transport import OutboxTransport, SesTransport, ses_client
from models.campaigns import PartnerCampaign
from models.contacts import Contact
from models.delivery import Delivery
from models.workflow_io import SendInput, SendResult
from services.delivery import SendContext, compose_delivery, load_context
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


def bare_recipient(stack: Stack, ctx: SendContext, pcid: int, i: int) -> tuple[Delivery, Contact]:
    """Recipient i of a bare loop: a ledger row and a contact that exist only in memory."""
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
    return delivery, contact


def bare_loop(stack: Stack, pcid: int, n: int) -> float:
    """Seconds to render and write `n` messages the product's way, minus Temporal and ledger."""
    directory = Path(tempfile.mkdtemp(prefix="brandrelay-bare-"))
    writer = OutboxTransport(directory)
    try:
        with Session(stack.engine) as s:
            ctx = load_context(s, stack.settings, pcid)
            start = time.perf_counter()
            for i in range(n):
                writer.send(compose_delivery(s, ctx, *bare_recipient(stack, ctx, pcid, i)))
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


# Latency mode ------------------------------------------------------------------------------

GOAL_LATENCY_RATIO = 0.8
GOAL_SPEEDUP = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_endpoint(delay: float) -> tuple[subprocess.Popen[bytes], str]:
    """bench.ses_endpoint in its own process; its URL once it answers."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.ses_endpoint", "--port", str(port), "--delay", str(delay)],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the SES endpoint did not start")


def ses_overrides(url: str, concurrency: int) -> dict[str, Any]:
    return {
        "email_transport": EmailTransport.ses,
        "aws_endpoint_url": url,
        "aws_region": "eu-west-1",
        "aws_access_key_id": "bench",
        "aws_secret_access_key": "bench",
        "send_concurrency": concurrency,
        "send_rate_per_second": 100_000.0,  # the provider's latency is measured, not a rate
    }


def bare_concurrent_loop(stack: Stack, pcid: int, n: int) -> float:
    """Seconds to render `n` messages in this thread and hand them to the SES transport with
    SEND_CONCURRENCY in flight: what the product does, without ledger or Temporal."""
    transport = SesTransport(ses_client(stack.settings))
    size = stack.settings.send_concurrency
    with Session(stack.engine) as s, ThreadPoolExecutor(size) as pool:
        ctx = load_context(s, stack.settings, pcid)
        flying: set[Future[str]] = set()
        start = time.perf_counter()
        for i in range(n):
            msg = compose_delivery(s, ctx, *bare_recipient(stack, ctx, pcid, i))
            if len(flying) >= size:
                done, flying = wait(flying, return_when=FIRST_COMPLETED)
                for f in done:
                    f.result()
            flying.add(pool.submit(transport.send, msg))
        for f in flying:
            f.result()
        return time.perf_counter() - start


async def latency_run(
    recipients: int, bare: int, serial: int, delay: float, concurrency: int
) -> None:
    proc, url = start_endpoint(delay)
    try:
        print(f"{'provider':<28} SES v2 endpoint answering after {delay * 1000:.0f} ms")
        async with campaign_stack(2, overrides=ses_overrides(url, concurrency)) as stack:
            print(f"{'database':<28} {stack.engine.dialect.name}", flush=True)
            add_contacts(stack, 1, recipients)
            pcid = approved_partner_campaign(stack, 1, "Bench send latency")
            bare_seconds = await asyncio.to_thread(bare_concurrent_loop, stack, pcid, bare)
            bare_rate = bare / bare_seconds
            print(
                f"{'bare render + hand-over':<28} {bare_rate:,.0f} messages/s "
                f"({bare:,} in {bare_seconds:.1f} s, {concurrency} in flight)",
                flush=True,
            )
            seconds, peak, result = await product_send(stack, pcid)
            if result.counts.get("sent", 0) != recipients:
                raise SystemExit(f"sent {result.counts.get('sent')} of {recipients}")
            rate = recipients / seconds
            print(
                f"{f'product, {recipients:,} recipients':<28} {rate:,.0f} messages/s "
                f"({seconds:.1f} s, SEND_CONCURRENCY={concurrency}, peak RSS {peak:.0f} MB)",
                flush=True,
            )
        async with campaign_stack(2, overrides=ses_overrides(url, 1)) as stack:
            add_contacts(stack, 0, serial)
            pcid = approved_partner_campaign(stack, 0, "Bench send serial")
            serial_seconds, _, result = await product_send(stack, pcid)
            serial_rate = serial / serial_seconds
            print(
                f"{f'product, {serial:,} recipients':<28} {serial_rate:,.1f} messages/s "
                f"({serial_seconds:.1f} s, SEND_CONCURRENCY=1)",
                flush=True,
            )
        ratio = rate / bare_rate
        print(f"{'ratio':<28} {ratio:.2f} (product / bare, goal >= {GOAL_LATENCY_RATIO})")
        print(f"{'peak RSS':<28} {peak:.0f} MB (goal < {GOAL_RSS_MB} MB)")
        print(
            f"{'speed-up':<28} {rate / serial_rate:.1f}x over SEND_CONCURRENCY=1 "
            f"(goal >= {GOAL_SPEEDUP:g}x)"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=None, help="default 100,000; 20,000")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--bare", type=int, default=None, help="default 10,000; latency 5,000")
    parser.add_argument("--latency", action="store_true", help="through a slow SES endpoint")
    parser.add_argument("--delay", type=float, default=0.04, help="latency: seconds per answer")
    parser.add_argument("--concurrency", type=int, default=16, help="latency: SEND_CONCURRENCY")
    parser.add_argument("--serial", type=int, default=500, help="latency: SEND_CONCURRENCY=1 run")
    args = parser.parse_args()
    if args.latency:
        recipients = args.recipients or 20_000
        asyncio.run(
            latency_run(recipients, args.bare or 5_000, args.serial, args.delay, args.concurrency)
        )
    else:
        asyncio.run(run(args.recipients or 100_000, args.small, args.bare or 10_000))


if __name__ == "__main__":
    main()
