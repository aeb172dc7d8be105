"""Sending against a provider that throttles: how close to the allowed rate a send gets.

    python -m bench.send_throttled [--recipients 400] [--rate 40] [--throttle-share 0.25]
                                   [--unavailable-share 0.03]

A local SES v2 endpoint (bench.ses_endpoint) reports a quota of `--rate` messages/s through
GetAccount, refuses calls above it, and refuses a share of all calls as throttled
(`--throttle-share`) or with a 503 (`--unavailable-share`) whatever the rate. One partner's
`--recipients` go through the product's batch loop (services.delivery.send_batch with the
worker's shared rate clock and adaptive rate), 50 a batch as the SendWorkflow asks, until all
are sent; every recipient must be accepted exactly once.

Printed: messages/s with the refusals; the same send to an endpoint that refuses nothing
beyond the quota; and the ratio of the first to the allowed rate, which is the goal's baseline
(goal >= 0.7: the provider allows no more, so nothing can do better). Also printed: the most
a sender can reach that keeps its calls, refused ones included, within the quota, as the
product's shared rate clock does (the allowed rate times the share of calls not refused).
The endpoint runs in this process: at these rates the quota, not the CPU, is what limits.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]

from activities.delivery import DeliveryActivities, snapshot_audience
from bench.campaign_stack import Stack, campaign_stack
from bench.send import add_contacts, approved_partner_campaign
from bench.ses_endpoint import EndpointConfig, Tally, running
from mail.transport import SesTransport
from services import delivery

BATCH = 50
GOAL_SHARE = 0.7


@dataclass
class Run:
    rate: float
    seconds: float
    tally: Tally


def throttled_send(stack: Stack, partner_index: int, n: int, config: EndpointConfig) -> Run:
    """Send `n` fresh recipients of one partner through the batch loop against `config`."""
    add_contacts(stack, partner_index, n)
    pcid = approved_partner_campaign(stack, partner_index, f"Bench throttled {partner_index}")
    snapshot_audience(stack.engine, pcid)
    with running(config) as endpoint:
        client = boto3.session.Session().client(
            "sesv2",
            region_name="eu-west-1",
            endpoint_url=endpoint.url,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            config=Config(retries={"total_max_attempts": 1}, max_pool_connections=32),
        )
        transport = SesTransport(client, None)
        settings = stack.settings
        # The worker's pace: the shared rate clock at the account's quota, lowered on throttles.
        pace = DeliveryActivities(stack.engine, settings, transport)._pace()
        sent, cursor = 0, 0
        started = time.perf_counter()
        while True:
            outcome = delivery.send_batch(
                stack.engine, settings, transport, pcid, BATCH, after_id=cursor, pace=pace
            )
            if outcome.fault or outcome.paused:
                raise SystemExit(f"the send stopped: {outcome.fault or outcome.paused}")
            sent += outcome.sent
            cursor = outcome.last_id
            if outcome.seen < BATCH and not outcome.cut_short:
                break
        seconds = time.perf_counter() - started
        tally = endpoint.tally
    if sent != n or tally.accepted != n or len(set(tally.message_ids)) != n:
        raise SystemExit(f"sent {sent}, accepted {tally.accepted} of {n}")
    return Run(n / seconds, seconds, tally)


async def run(recipients: int, rate: float, throttle_share: float, unavailable: float) -> None:
    overrides = {"send_rate_per_second": None}  # the account's quota, as in production
    async with campaign_stack(2, overrides=overrides) as stack:
        print(f"{'database':<30} {stack.engine.dialect.name}", flush=True)
        refusing = EndpointConfig(
            delay=0.02, max_rate=rate, throttle_share=throttle_share, unavailable_share=unavailable
        )
        plain = EndpointConfig(delay=0.02, max_rate=rate)
        hard = await asyncio.to_thread(throttled_send, stack, 0, recipients, refusing)
        easy = await asyncio.to_thread(throttled_send, stack, 1, recipients, plain)
    t = hard.tally
    print(
        f"{'with refusals':<30} {hard.rate:.1f} messages/s ({recipients} in {hard.seconds:.1f} s;"
        f" {t.throttled} throttled, {t.unavailable} unavailable, {t.over_rate} over the rate)"
    )
    print(
        f"{'quota only':<30} {easy.rate:.1f} messages/s ({recipients} in {easy.seconds:.1f} s;"
        f" {easy.tally.over_rate} over the rate)"
    )
    print(f"{'allowed (baseline)':<30} {rate:.1f} messages/s")
    ceiling = rate * (1 - throttle_share - unavailable)
    print(
        f"{'calls-paced ceiling':<30} {ceiling:.1f} messages/s (the product keeps its calls, "
        "refused ones too, within the quota)"
    )
    print(
        f"{'ratio':<30} {hard.rate / rate:.2f} of the allowed rate (goal >= {GOAL_SHARE}); "
        f"{hard.rate / easy.rate:.2f} of the quota-only send"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=400)
    parser.add_argument("--rate", type=float, default=40.0, help="the account's quota, per s")
    parser.add_argument("--throttle-share", type=float, default=0.25)
    parser.add_argument("--unavailable-share", type=float, default=0.03)
    args = parser.parse_args()
    asyncio.run(run(args.recipients, args.rate, args.throttle_share, args.unavailable_share))


if __name__ == "__main__":
    main()
