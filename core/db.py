"""Database engine and sessions for SQLite (embedded default) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

from models.base import utcnow

BUSY_TIMEOUT_MS = 30_000  # SQLite: how long a writer waits for another's lock


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create the engine; SQLite gets WAL, foreign keys and a busy timeout so the API,
    the worker and the seed script can share one file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit no longer waits for fsync; a crashed process loses nothing,
            # only a power cut can lose the last commits (SQLite is the embedded default;
            # production runs PostgreSQL). The delivery ledger commits twice per message.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cur.close()

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def release_connection(session: Session) -> None:
    """End the session's transaction so its connection goes back to the pool; loaded rows stay
    readable (the request's sessions do not expire on commit). A session with changes not yet
    flushed is left alone.

    The API's routes run on one event loop while their sessions are synchronous: a request
    that holds a connection while it waits (for the workflow service, for a thread, for the loop
    itself) and a request that checks one out on the loop can block each other until the pool's
    30 s timeout, since the loop, blocked in the checkout, is what the holder needs to go on
    (seen with 50 decisions at once: two answered 503 after a minute). So a connection is never
    held across an await: authentication ends its transaction, and so do the actions before and
    after they wait for a workflow."""
    if not (session.new or session.dirty or session.deleted):
        session.commit()


def ping(engine: Engine) -> None:
    """Raise if the database cannot answer a trivial query."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


PROBE_WAIT_MS = 2000  # how long the write probe waits for a lock before it says "cannot write"


def write_probe(engine: Engine) -> None:
    """Raise if the database cannot take a write now: one committed row update, waiting at
    most PROBE_WAIT_MS for a lock (a locked SQLite file or a blocked table answers quickly
    instead of after the 30-second busy timeout the application uses)."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(f"PRAGMA busy_timeout={PROBE_WAIT_MS}")
            conn.commit()  # the pragma began SQLAlchemy's transaction; the probe has its own
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {PROBE_WAIT_MS}")
                    conn.exec_driver_sql(f"SET LOCAL statement_timeout = {PROBE_WAIT_MS * 2}")
                now = utcnow()
                updated = conn.execute(
                    text("UPDATE readinessprobe SET checked_at = :now WHERE id = 1"), {"now": now}
                ).rowcount
                if not updated:
                    conn.execute(
                        text("INSERT INTO readinessprobe (id, checked_at) VALUES (1, :now)"),
                        {"now": now},
                    )
        finally:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                conn.commit()


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
