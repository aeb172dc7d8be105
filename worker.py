"""`python worker.py [--queue NAME ...]`: run the Temporal workers.

Connects with retries (a clear message when the server stays unreachable), makes sure the
audit checkpoint, reporting rollup, webhook sweep and journey sweep schedules exist and every
enabled webhook endpoint's workflow runs when it serves the orchestration queue,
serves every non-empty task queue from registry.py, and on SIGTERM/SIGINT stops polling and
gives running activities WORKER_SHUTDOWN_GRACE seconds to finish before they are cancelled.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from core import audit_keys
from core.audit_schedule import checkpoint_schedule_id, ensure_checkpoint_schedule
from core.db import make_engine
from core.journey_schedule import ensure_journey_sweep_schedule, journey_sweep_schedule_id
from core.logging import configure_logging
from core.report_schedule import ensure_report_schedule, report_schedule_id
from core.settings import Settings, get_settings
from core.temporal import TemporalUnreachable, connect
from core.webhook_schedule import ensure_webhook_sweep_schedule, webhook_sweep_schedule_id
from registry import precompile_workflow_modules, queues
from services.webhooks import starter as webhook_starter

log = logging.getLogger("brandrelay.worker")


async def start_checkpoint_schedule(client: Client, settings: Settings) -> None:
    """A worker that cannot set the schedule up still serves its queues; the error is logged
    (no checkpoints are written until it is fixed)."""
    try:
        outcome = await ensure_checkpoint_schedule(client, settings)
    except RPCError as err:
        log.error("audit checkpoint schedule not set up: %s", err)
        return
    log.info(
        "audit checkpoint schedule %s: %s (every %ss)",
        checkpoint_schedule_id(settings),
        outcome.value,
        settings.audit_checkpoint_interval,
    )


async def start_report_schedule(client: Client, settings: Settings) -> None:
    """Like the checkpoint schedule: logged and skipped when it cannot be set up (reports then
    count live from the last watermark until it is)."""
    try:
        outcome = await ensure_report_schedule(client, settings)
    except RPCError as err:
        log.error("reporting rollup schedule not set up: %s", err)
        return
    log.info(
        "reporting rollup schedule %s: %s (every %ss)",
        report_schedule_id(settings),
        outcome.value,
        settings.report_rollup_interval,
    )


async def start_webhook_sweep_schedule(client: Client, settings: Settings) -> None:
    """Like the checkpoint schedule: logged and skipped when it cannot be set up (an endpoint
    whose workflow is not running then waits for the next worker start)."""
    try:
        outcome = await ensure_webhook_sweep_schedule(client, settings)
    except RPCError as err:
        log.error("webhook sweep schedule not set up: %s", err)
        return
    log.info(
        "webhook sweep schedule %s: %s (every %ss)",
        webhook_sweep_schedule_id(settings),
        outcome.value,
        settings.webhook_sweep_interval,
    )


async def start_journey_sweep_schedule(client: Client, settings: Settings) -> None:
    """Like the checkpoint schedule: logged and skipped when it cannot be set up (nobody new
    enters a journey until it is; running contacts go on)."""
    try:
        outcome = await ensure_journey_sweep_schedule(client, settings)
    except RPCError as err:
        log.error("journey sweep schedule not set up: %s", err)
        return
    log.info(
        "journey sweep schedule %s: %s (every %ss)",
        journey_sweep_schedule_id(settings),
        outcome.value,
        settings.journey_sweep_interval,
    )


async def start_webhook_endpoints(client: Client, settings: Settings, engine: Engine) -> None:
    """At every start, not only at the schedule's first run (made only when it is created): a
    worker start after an outage, or with the sweep off, starts them at once. A database that
    cannot answer yet does not keep the worker from serving (the sweep catches up)."""
    try:
        started = await webhook_starter.start_enabled(client, settings.temporal_task_queue, engine)
    except SQLAlchemyError as err:
        log.error("webhook endpoint workflows not ensured: %s", err)
        return
    log.info("webhook endpoint workflows ensured: %d", started)


async def run(settings: Settings, only: set[str] | None = None) -> None:
    audit_keys.install(audit_keys.AuditKeys.from_settings(settings))
    precompile_workflow_modules()  # the sandbox re-imports them for every workflow it runs
    engine = make_engine(settings.resolved_database_url)
    client = await connect(settings)
    executor = ThreadPoolExecutor(max_workers=settings.worker_activity_threads)
    specs = [s for s in queues(settings, engine) if not s.empty]
    if only:
        specs = [s for s in specs if s.task_queue in only]
    if any(s.task_queue == settings.temporal_task_queue for s in specs):
        await start_checkpoint_schedule(client, settings)
        await start_report_schedule(client, settings)
        await start_webhook_sweep_schedule(client, settings)
        await start_journey_sweep_schedule(client, settings)
        await start_webhook_endpoints(client, settings, engine)
    workers = [
        Worker(
            client,
            task_queue=spec.task_queue,
            workflows=spec.workflows,
            activities=spec.activities,
            activity_executor=executor,
            graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_grace),
        )
        for spec in specs
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(w.run()) for w in workers]
    log.info(
        "worker polling %s on %s (namespace %s)",
        ", ".join(s.task_queue for s in specs),
        settings.temporal_address,
        settings.temporal_namespace,
    )
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if waiter in done:
        log.info(
            "shutting down: waiting up to %ss for running activities",
            settings.worker_shutdown_grace,
        )
    await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
    for task in tasks:
        if task.done() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    executor.shutdown(wait=True)
    engine.dispose()
    log.info("worker stopped cleanly")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queue", action="append", help="serve only this task queue")
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level)
    try:
        asyncio.run(run(settings, set(args.queue) if args.queue else None))
    except TemporalUnreachable as err:
        log.error("%s", err)
        return 2
    return 0


def exit_now(code: int) -> None:
    """Leave without interpreter finalisation: the Temporal core's native threads can abort
    it ("PyGILState_Release ... must be current"), turning a clean exit into SIGABRT."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
