"""`python -m scripts.migrate`: bring the configured database to the newest migration."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from core.settings import PROJECT_ROOT, get_settings


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config(str(Path(PROJECT_ROOT) / "alembic.ini"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(connection: Connection | None = None) -> None:
    command.upgrade(alembic_config(connection), "head")


def main() -> None:
    settings = get_settings()
    upgrade()
    print(f"database migrated: {settings.resolved_database_url.split('@')[-1]}")


if __name__ == "__main__":
    main()
