"""The limits of one render call and the budget that enforces them.

HQ's template source is code that runs inside the API and the workers. Whatever it builds must
stay small: every value the sandbox builds is checked here *before* it is allocated (its size is
predicted from its inputs), every value counts towards a total per render call, and loops,
calls and recursion are bounded in time and depth. The budget lives in a ContextVar, so one
renderer serves many threads and nested renders share the outer budget.
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token

DEFAULT_MAX_OUTPUT = 2_000_000  # characters per channel part, and per value built
DEFAULT_MAX_TOTAL = 20_000_000  # characters built in one render call, all values together
DEFAULT_TIME_LIMIT = 2.0  # seconds per render call
MAX_ITEMS = 100_000  # items in one list, tuple or dict built by a template (Jinja's range cap)
MAX_CALL_DEPTH = 50  # macros, call blocks and recursive loops inside one another
MAX_NESTING = 50  # brackets, blocks and syntax-tree levels of a template's source
MAX_LOOP_NESTING = 16  # for-loops inside one another (Python compiles at most 20 nested blocks)
MAX_INT_BITS = 100_000  # integers beyond this are refused before they are computed
MAX_FILTER_WIDTH = 1_000  # center/indent widths


class RenderError(Exception):
    """A template could not be rendered: over a limit, a sandbox violation, a template error.

    `part` is the channel part (email.html, ...) and `line` the template line, when known.
    """

    def __init__(self, message: str, part: str | None = None, line: int | None = None) -> None:
        where = ", ".join(w for w in (part, f"line {line}" if line else None) if w)
        super().__init__(f"{where}: {message}" if where else message)
        self.part = part
        self.line = line
        self.reason = message


class Budget:
    """Deadline, size caps and call depth of one render call, visible to the sandbox hooks."""

    __slots__ = ("built", "deadline", "depth", "max_output", "max_total", "time_limit")

    def __init__(self, time_limit: float, max_output: int, max_total: int) -> None:
        self.time_limit = time_limit
        self.max_output = max_output
        self.max_total = max_total
        self.deadline = time.perf_counter() + time_limit
        self.built = 0
        self.depth = 0

    def check_time(self) -> None:
        if time.perf_counter() > self.deadline:
            raise RenderError(f"rendering took longer than {self.time_limit:g} seconds")

    def check_size(self, size: int) -> None:
        """The output of one channel part."""
        if size > self.max_output:
            raise RenderError(f"output is larger than {self.max_output} characters")

    def check_value(self, size: int, what: str) -> None:
        """One value about to be built, `size` predicted in characters (bytes for bytes)."""
        if size > self.max_output:
            raise RenderError(
                f"{what} would build {size:,} characters; "
                f"a value may have at most {self.max_output:,}"
            )

    def build(self, size: int, what: str) -> None:
        """Check one value about to be built and count it towards the render's total."""
        if size > self.max_output:
            self.check_value(size, what)
        self.built += size
        if self.built > self.max_total:
            raise RenderError(
                f"the template builds more than {self.max_total:,} characters in total "
                f"(last: {what})"
            )

    def check_items(self, count: int, what: str) -> None:
        if count > MAX_ITEMS:
            raise RenderError(
                f"{what} would have {count:,} items; a list may have at most {MAX_ITEMS:,}"
            )
        self.build(count, what)

    def enter_call(self) -> None:
        self.depth += 1
        if self.depth > MAX_CALL_DEPTH:
            self.depth -= 1
            raise RenderError(
                f"macros or recursive loops call each other more than {MAX_CALL_DEPTH} deep"
            )

    def leave_call(self) -> None:
        self.depth -= 1


_BUDGET: ContextVar[Budget | None] = ContextVar("content_render_budget", default=None)


def current() -> Budget:
    """The budget of the render in progress; outside a render (compiling, a sandbox used
    directly) a fresh one with the default limits, so no code path runs unlimited."""
    budget = _BUDGET.get()
    if budget is None:
        return Budget(DEFAULT_TIME_LIMIT, DEFAULT_MAX_OUTPUT, DEFAULT_MAX_TOTAL)
    return budget


class Limits:
    """Limits for everything rendered or compiled inside; nested calls share the outer one.
    A class rather than a generator: it wraps every part of every message."""

    __slots__ = ("_budget", "_token")

    def __init__(self, time_limit: float, max_output: int, max_total: int) -> None:
        outer = _BUDGET.get()
        self._token: Token[Budget | None] | None = None
        self._budget = outer or Budget(time_limit, max_output, max_total)

    def __enter__(self) -> Budget:
        if _BUDGET.get() is None:
            self._token = _BUDGET.set(self._budget)
        return self._budget

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _BUDGET.reset(self._token)
            self._token = None
