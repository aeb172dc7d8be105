"""Renders template sources in a child process whose address space is capped.

    python -m tests.content.render_isolated < sources.json   (a JSON list of email.html sources)

Prints one JSON line per source: the exception's type and message (or "ok"), whether a
MemoryError occurred anywhere in the exception chain, and the peak of traced memory. The cap
is the child's own size after start-up plus HEADROOM, so a render that really allocates what a
memory bomb asks for fails with MemoryError instead of slipping through, and cannot take the
test machine down with it.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import tracemalloc
from typing import Any

from content.render import Renderer
from content.spec import EmailVariant, TemplateContent

HEADROOM = 256 * 2**20


def _address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def _chain(err: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while err is not None and err not in seen:
        seen.append(err)
        err = err.__cause__ or err.__context__
    return seen


def render(renderer: Renderer, source: str) -> dict[str, Any]:
    content = TemplateContent(
        slots=[], email=EmailVariant(subject="Hi", html=source, text="{{ unsubscribe_url }}")
    )
    gc.collect()  # what the previous source left in reference cycles is not this one's
    tracemalloc.reset_peak()
    try:
        renderer.render_email("isolated", content, {}, {}, inline_css=False)
        outcome: dict[str, Any] = {"error": None, "message": "ok"}
    except BaseException as err:  # everything is reported to the parent
        outcome = {"error": type(err).__name__, "message": str(err)}
        outcome["memory_error"] = any(isinstance(e, MemoryError) for e in _chain(err))
        outcome["line"] = getattr(err, "line", None)
    outcome["peak"] = tracemalloc.get_traced_memory()[1]
    return outcome


def main() -> None:
    sources = json.load(sys.stdin)
    renderer = Renderer()
    renderer.render_email(  # warm up: imports and first compilation are not the bomb's
        "warm-up",
        TemplateContent(slots=[], email=EmailVariant(subject="Hi", html="<p>x</p>", text="x")),
        {},
        {},
    )
    limit = _address_space() + HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    tracemalloc.start()
    for source in sources:
        print(json.dumps(render(renderer, source)), flush=True)


if __name__ == "__main__":
    main()
