"""`python -m scripts.audit_checkpoint [--brand ID ...]`: anchor the audit chains now.

Without --brand: the schedule's sweep (every brand whose head moved since its latest
checkpoint). With --brand: a checkpoint of each named brand, moved or not. Exits 1 when a
brand's chain no longer continues its latest checkpoint (nothing is anchored for it then).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from sqlmodel import Session

from core.db import make_engine
from core.settings import get_settings
from services.audit_checkpoints import (
    CheckpointPolicy,
    CheckpointRefused,
    Written,
    sweep,
    write_checkpoint,
)
from storage.factory import make_checkpoint_store


def _line(written: Written) -> str:
    cp = written.checkpoint
    return f"brand {cp.brand_id}: seq {cp.seq} anchored at {written.location} ({written.lock})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--brand", type=int, action="append", help="brand id (repeatable)")
    args = parser.parse_args(argv)
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url)
    store = make_checkpoint_store(settings)
    policy = CheckpointPolicy.from_settings(settings)
    now = datetime.now(UTC)
    refused: list[str] = []
    try:
        if args.brand:
            for brand_id in args.brand:
                with Session(engine) as session:
                    try:
                        written = write_checkpoint(
                            session, store, brand_id, policy=policy, now=now, force=True
                        )
                    except CheckpointRefused as err:
                        refused.append(str(err))
                        continue
                assert written is not None  # forced
                print(_line(written))
        else:
            report = sweep(lambda: Session(engine), store, policy=policy, now=now)
            for written in report.written:
                print(_line(written))
            print(f"{len(report.written)} written, {report.unchanged} unchanged")
            refused = report.refused
    finally:
        engine.dispose()
    for reason in refused:
        print(f"refused: {reason}", file=sys.stderr)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
