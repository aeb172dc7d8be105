"""The shared send rate: slots in the database, disjoint across threads and processes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from core.db import make_engine
from mail.rate_limit import reserve
from models.send_rate import SendRateSlot
from scripts.migrate import upgrade


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_reservations_queue_behind_each_other(db: Engine) -> None:
    clock = Clock()
    assert reserve(db, "smtp:relay:25", 10, 10.0, clock=clock) == 0.0  # first batch goes now
    assert reserve(db, "smtp:relay:25", 5, 10.0, clock=clock) == pytest.approx(1.0)
    assert reserve(db, "smtp:relay:25", 1, 10.0, clock=clock) == pytest.approx(1.5)
    assert reserve(db, "ses:eu-west-1", 1, 10.0, clock=clock) == 0.0, "keys are independent"
    clock.now += 0.5
    assert reserve(db, "smtp:relay:25", 1, 10.0, clock=clock) == pytest.approx(1.1)
    with Session(db) as s:
        slot = s.get(SendRateSlot, "smtp:relay:25")
        assert slot is not None and slot.next_free_at == pytest.approx(1001.7)


def test_idle_time_is_not_banked(db: Engine) -> None:
    clock = Clock()
    reserve(db, "outbox", 1, 1.0, clock=clock)
    clock.now += 3600
    assert reserve(db, "outbox", 1, 1.0, clock=clock) == 0.0
    assert reserve(db, "outbox", 1, 1.0, clock=clock) == pytest.approx(1.0)


def test_refuses_nonsense(db: Engine) -> None:
    with pytest.raises(ValueError):
        reserve(db, "outbox", 0, 1.0)
    with pytest.raises(ValueError):
        reserve(db, "outbox", 1, 0.0)


def _slots(engine: Engine, threads: int, per_thread: int, rate: float) -> list[float]:
    """Each thread reserves one message at a time with the same fixed clock: the waits are
    the slots' offsets, so disjoint slots mean all waits differ by 1/rate."""
    clock = Clock()
    waits: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work() -> None:
        try:
            start.wait()
            for _ in range(per_thread):
                wait = reserve(engine, "smtp:shared:25", 1, rate, clock=clock)
                with lock:
                    waits.append(wait)
        except BaseException as err:  # surfaced below
            errors.append(err)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, errors
    return sorted(waits)


def test_two_threads_get_disjoint_slots(db: Engine) -> None:
    waits = _slots(db, threads=2, per_thread=50, rate=100.0)
    assert waits == pytest.approx([i / 100.0 for i in range(100)])


def test_two_engines_on_one_sqlite_file_share_the_clock(tmp_path: Path) -> None:
    """Two engines stand for two worker processes on one database file."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = make_engine(url), make_engine(url)
    with first.begin() as conn:
        upgrade(conn)
    clock = Clock()
    got = [reserve(e, "ses:x", 2, 4.0, clock=clock) for e in (first, second, first, second)]
    assert got == pytest.approx([0.0, 0.5, 1.0, 1.5])
    first.dispose()
    second.dispose()
