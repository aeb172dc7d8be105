"""Fresh campaign ids for every reporting test on PostgreSQL.

The database restarts its ids after each test, and workflow ids are made of them
(`campaign-1`), while the time-skipping server lives for the whole session: a campaign some
earlier test left running under the same id is reused by a launch (USE_EXISTING) and the new
campaign's partners are never opened. Starting the sequence far from 1 keeps these tests'
workflows their own. (SQLite hands out max(id) + 1 and cannot be
moved without a row; the collision was seen on PostgreSQL.)"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

_NEXT = itertools.count(random.randint(100_000, 900_000) * 10, 1_000)


@pytest.fixture(autouse=True)
def fresh_campaign_ids(db: Engine) -> Iterator[None]:
    if db.dialect.name == "postgresql":
        with db.begin() as conn:
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('campaign', 'id'), :n)"),
                {"n": next(_NEXT)},
            )
    yield
