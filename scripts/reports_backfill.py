"""`python -m scripts.reports_backfill [--brand ID]`: reporting facts for partner campaign
transitions projected before they existed, read from the audit trail, then every closed day
rolled up again. Safe to run twice (the second run writes no facts and the same aggregates);
run it once after upgrading, or after a fact arrived later than REPORT_ROLLUP_LOOKBACK_DAYS.
"""

from __future__ import annotations

import argparse

from core.db import make_engine
from core.settings import get_settings
from services.reporting.backfill import backfill


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--brand", type=int, help="only this brand id (default: every brand)")
    args = parser.parse_args(argv)
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        report = backfill(engine, args.brand)
    finally:
        engine.dispose()
    facts = report.facts
    print(
        f"facts: {facts.facts} written, {facts.already_present} already present, "
        f"{facts.cycle_times} cycle times written, over {facts.partner_campaigns} "
        "partner campaigns"
    )
    if facts.unreadable:
        print(f"skipped {len(facts.unreadable)} audit events: {', '.join(facts.unreadable[:5])}")
    for r in report.rollups:
        if r.closed_from is None:
            print(f"brand {r.brand_id}: nothing to close (closed until {r.closed_until})")
        else:
            print(
                f"brand {r.brand_id}: {r.days} days {r.closed_from}..{r.closed_until} "
                f"re-closed, {r.rows} aggregate rows"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
