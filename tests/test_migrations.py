"""Models and migrations agree (autogenerate finds no difference), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

from core.db import make_engine
from core.settings import Settings
from scripts.migrate import alembic_config, upgrade


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": engine.dialect.name == "sqlite"}
        )
        return list(compare_metadata(ctx, SQLModel.metadata))


def test_sqlite_migrations_match_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.begin() as conn:
        upgrade(conn)
    assert _diff(engine) == []
    engine.dispose()


def test_migrated_database_matches_models(engine: Engine) -> None:
    """The suite's own database: PostgreSQL when DATABASE_URL names one (CI), else SQLite."""
    assert _diff(engine) == []


def test_drift_is_detected(tmp_path: Path) -> None:
    """The comparison can fail: a database missing a column is reported."""
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    with engine.begin() as conn:
        upgrade(conn)
        conn.exec_driver_sql("ALTER TABLE region RENAME COLUMN name TO title")
    assert _diff(engine) != []
    engine.dispose()


def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    with engine.begin() as conn:
        upgrade(conn)
        command.downgrade(alembic_config(conn), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    with engine.begin() as conn:
        upgrade(conn)
    assert "brand" in inspect(engine).get_table_names()
    engine.dispose()


def test_postgres_when_configured(settings: Settings, engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("DATABASE_URL does not name PostgreSQL (CI sets it)")
    assert _diff(engine) == []
    assert settings.resolved_database_url.startswith("postgresql+psycopg://")
