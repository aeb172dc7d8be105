"""`make bench`: run every benchmark in turn with its defaults (approval latency twice:
sequential, and 50 approvers at once)."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS: list[list[str]] = [
    ["bench.audit_append"],
    ["bench.render"],
    ["bench.approval_latency"],
    ["bench.approval_latency", "--decisions", "50", "--concurrency", "50", "--profile"],
    ["bench.fanout"],
    ["bench.contact_import"],
    ["bench.campaign_sheets"],
    ["bench.send"],
    ["bench.sms"],
    ["bench.journeys"],
]


def main() -> int:
    status = 0
    for module, *args in BENCHMARKS:
        print(f"== {' '.join([module, *args])}", flush=True)
        status |= subprocess.call([sys.executable, "-m", module, *args])
    return status


if __name__ == "__main__":
    sys.exit(main())
