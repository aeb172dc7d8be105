"""Migration d17d7a3c0004 keeps the SES events stored before it: backfilled with their
delivery's brand, partner and partner campaign, renamed to the event table's kinds, keyed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text

from core.db import make_engine
from scripts.migrate import alembic_config, upgrade


def test_stored_ses_events_are_backfilled(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'events.db'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "c4e8a2b6d1f0")
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # the delivery alone is enough here
        conn.execute(
            text(
                "INSERT INTO delivery (id, partner_campaign_id, brand_id, partner_id, email, "
                "status, attempts, permanent, created_at, updated_at) VALUES "
                "(5, 7, 2, 3, 'a@example.com', 'sent', 1, 0, :t, :t)"
            ),
            {"t": "2026-12-01 10:00:00"},
        )
        for n, kind in enumerate(("bounce", "complaint", "delivery", "reject"), start=1):
            conn.execute(
                text(
                    "INSERT INTO deliveryevent (id, delivery_id, kind, detail, at) "
                    "VALUES (:id, 5, :kind, :detail, :t)"
                ),
                {
                    "id": n,
                    "kind": kind,
                    "detail": "Permanent" if n == 1 else None,
                    "t": "2026-12-01 10:00:00",
                },
            )
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
    with engine.begin() as conn:
        upgrade(conn)
        rows = conn.execute(
            text(
                "SELECT kind, source, key, brand_id, partner_id, partner_campaign_id, detail "
                "FROM deliveryevent ORDER BY id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("bounced", "ses", "ses-legacy:1", 2, 3, 7, "Permanent"),
        ("complained", "ses", "ses-legacy:2", 2, 3, 7, None),
        ("delivered", "ses", "ses-legacy:3", 2, 3, 7, None),
        ("reject", "ses", "ses-legacy:4", 2, 3, 7, None),
    ]
    engine.dispose()
