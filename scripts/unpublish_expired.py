"""Unpublish the email images of assets whose licence has expired: `python -m
scripts.unpublish_expired`, once a day (cron, or a scheduler of the platform).

The public image route refuses such images by itself; this matters for S3 with
ASSET_PUBLIC_BASE_URL, where S3 serves the public copies and only deleting them stops it."""

from __future__ import annotations

from sqlmodel import Session

from core.db import make_engine
from core.settings import get_settings
from models.base import utcnow
from services.asset_publication import store_for, unpublish_expired


def main() -> None:
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url)
    with Session(engine) as session:
        ended = unpublish_expired(session, store_for(settings), utcnow().date())
        session.commit()
    print(f"unpublished {ended} image(s) of assets whose licence has expired")


if __name__ == "__main__":
    main()
