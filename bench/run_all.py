"""`make bench`: run every benchmark in turn with its defaults."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = [
    "bench.audit_append",
    "bench.render",
    "bench.approval_latency",
    "bench.fanout",
    "bench.contact_import",
    "bench.send",
]


def main() -> int:
    status = 0
    for module in BENCHMARKS:
        print(f"== {module}", flush=True)
        status |= subprocess.call([sys.executable, "-m", module])
    return status


if __name__ == "__main__":
    sys.exit(main())
