"""`python -m core.temporal_setup`: register the custom search attributes on a cluster, and
ensure the reporting rollup schedule (the worker ensures it too when it starts)."""

from __future__ import annotations

import asyncio
import os
import sys

from core.report_schedule import ensure_report_schedule, report_schedule_id
from core.settings import get_settings
from core.temporal import connect, ensure_search_attributes
from domain import search_attributes


async def main() -> None:
    settings = get_settings()
    client = await connect(settings)
    await ensure_search_attributes(client)
    print("search attributes present:", ", ".join(k.name for k in search_attributes.ALL))
    outcome = await ensure_report_schedule(client, settings)
    print(f"reporting rollup schedule {report_schedule_id(settings)}: {outcome.value}")


if __name__ == "__main__":
    asyncio.run(main())
    # The Temporal client's Rust threads can outlive the event loop and crash the interpreter's
    # teardown (SIGSEGV/SIGABRT after the work is done, seen in CI; temporalio/sdk-python#300):
    # a short-lived command flushes what it printed and leaves without that teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
