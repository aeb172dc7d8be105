"""`python -m scripts.seed`: load the demo data (dev mode only) and print the demo logins.

`python -m scripts.seed --partners 10000 --contacts-per-partner 200` adds, on top of the demo,
a large network to Northwind (scripts.bulk.network): regions of 500 partners, each partner
with its editor and GM and that many contacts, written in bulk."""

from __future__ import annotations

import argparse
import sys
import time

from core.db import make_engine, session_scope
from core.security import hash_password
from core.settings import get_settings
from scripts.bulk.network import seed_network
from scripts.demo.approvals import seed_demo_approvals
from scripts.demo.assets import seed_demo_assets
from scripts.demo.catalogue import seed_demo_catalogue
from scripts.demo.contacts import seed_demo_contacts
from scripts.demo.funds import seed_demo_funds
from scripts.demo.history import seed_demo_history
from scripts.demo.journeys import seed_demo_journeys
from scripts.demo.organisation import DEMO_PASSWORD, seed_demo
from scripts.demo.tracking import seed_demo_tracking
from storage.factory import make_blob_store


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.seed", description=__doc__)
    parser.add_argument(
        "--partners",
        type=int,
        default=0,
        help="also add this many generated partners to Northwind (scale-00001, ...)",
    )
    parser.add_argument(
        "--contacts-per-partner",
        type=int,
        default=200,
        help="contacts of each generated partner (default 200)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    settings = get_settings()
    if not settings.is_dev:
        print("demo data is only seeded when APP_ENV=dev; nothing done", file=sys.stderr)
        return 0
    engine = make_engine(settings.resolved_database_url)
    password_hash = hash_password(DEMO_PASSWORD)
    with session_scope(engine) as session:
        logins = seed_demo(session, password_hash)
        session.flush()
        seed_demo_assets(session, make_blob_store(settings))
        seed_demo_contacts(session)
        seed_demo_approvals(session)
        seed_demo_tracking(session)
        seed_demo_funds(session)  # Amsterdam's co-op fund and the rate card
        seed_demo_catalogue(session)  # the campaign catalogue partners order from
        seed_demo_history(session)  # past campaigns for the reports
        seed_demo_journeys(session)  # Amsterdam's birthday journey, switched on
    if args.partners > 0:
        started = time.perf_counter()
        with session_scope(engine) as session:
            done = seed_network(
                session, args.partners, args.contacts_per_partner, password_hash=password_hash
            )
        print(
            f"large network: {done.partners_added:,} partners added ({done.partners_total:,} in"
            f" {done.regions} regions), {done.users_added:,} users, {done.contacts_added:,}"
            f" contacts, {done.suppressed_added:,} suppressed, in"
            f" {time.perf_counter() - started:.1f} s; their logins are editor.scale-00001@"
            f"northwind.example and gm.scale-00001@northwind.example, ..."
        )
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
