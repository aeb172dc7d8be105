"""`python -m scripts.seed`: load the demo data (dev mode only) and print the demo logins."""

from __future__ import annotations

import sys

from core.db import make_engine, session_scope
from core.settings import get_settings
from scripts.demo.approvals import seed_demo_approvals
from scripts.demo.assets import seed_demo_assets
from scripts.demo.contacts import seed_demo_contacts
from scripts.demo.organisation import DEMO_PASSWORD, seed_demo
from storage.factory import make_blob_store


def main() -> int:
    settings = get_settings()
    if not settings.is_dev:
        print("demo data is only seeded when APP_ENV=dev; nothing done", file=sys.stderr)
        return 0
    engine = make_engine(settings.resolved_database_url)
    with session_scope(engine) as session:
        logins = seed_demo(session)
        session.flush()
        seed_demo_assets(session, make_blob_store(settings))
        seed_demo_contacts(session)
        seed_demo_approvals(session)
    engine.dispose()
    base = settings.public_base_url
    print(
        f"\nBrandrelay demo is starting:\n"
        f"  API and portal   {base}   (OpenAPI at {base}/docs, readiness at {base}/ready)\n"
        f"  Temporal UI      http://localhost:8233\n"
        f"  Demo logins (password {DEMO_PASSWORD!r}):"
    )
    for email, role in logins:
        print(f"    {email:<34} {role}")
    print("  Ctrl-C stops everything.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
