"""Bytecode for the modules the workflow sandbox re-imports.

Temporal's sandbox imports a workflow's module afresh for every workflow it runs (a new
execution, or a replay after the worker evicted it from its cache), and imports it through the
ordinary import system: with no `.pyc` beside the source it compiles the source every time. The
image sets PYTHONDONTWRITEBYTECODE, so nothing ever wrote one: compiling
workflows/partner_campaign.py took two thirds of each sandbox set-up, a quarter of the worker's
CPU in a 1,000-partner fan-out. The image compiles the project at build time; the worker (and
the benchmarks) call `ensure_bytecode` at start for a checkout that has none, which is a no-op
where the files are current or the directory is read-only.
"""

from __future__ import annotations

import importlib.util
import logging
import py_compile
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)


def ensure_bytecode(directories: Iterable[Path]) -> int:
    """Write the missing or stale `.pyc` of every module in `directories` (not recursive);
    returns how many were written. Errors (read-only tree, odd files) are logged and skipped:
    without bytecode the sandbox is slower, never wrong."""
    written = 0
    for directory in directories:
        for source in sorted(directory.glob("*.py")):
            cached = Path(importlib.util.cache_from_source(str(source)))
            try:
                if cached.exists() and cached.stat().st_mtime >= source.stat().st_mtime:
                    continue
                py_compile.compile(str(source), cfile=str(cached), doraise=True)
            except (OSError, py_compile.PyCompileError) as err:
                log.info("no bytecode for %s: %s", source.name, err)
                continue
            written += 1
    return written
