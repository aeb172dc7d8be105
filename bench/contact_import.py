"""Contact CSV import: throughput and memory against reading the whole file into a list.

    python -m bench.contact_import [--rows 100000] [--chunk 500] [--database-url URL]

Writes N generated rows to a CSV file on disk, imports it through services.contact_csv (the
function the API calls) into a fresh database, and prints rows per second. A second import
into another partner runs under tracemalloc for the peak Python memory, printed with its ratio
to the file's size, next to the peak of the naive way: list(csv.DictReader(file)).
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

from sqlmodel import Session

from bench.audit_append import fresh_engine, new_brand
from models.org import Partner, Region
from services.contact_csv import import_csv


def write_file(path: Path, rows: int) -> None:
    rng = random.Random(7)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            ["email", "name", "locale", "consent_status", "consent_source", "tags", "attr.tier"]
        )
        for i in range(rows):
            w.writerow(
                [
                    f"person{i}@example.com",
                    f"Person {i}",
                    rng.choice(("de", "nl", "en")),
                    rng.choice(("granted", "granted", "unknown", "denied")),
                    "bench",
                    rng.choice(("yoga", "yoga;family", "", "spinning")),
                    rng.choice(("gold", "silver", "basic")),
                ]
            )


def new_partner(session: Session, brand_id: int) -> Partner:
    region = Region(brand_id=brand_id, name=uuid.uuid4().hex[:8])
    session.add(region)
    session.flush()
    partner = Partner(
        brand_id=brand_id, region_id=region.id or 0, slug=uuid.uuid4().hex[:8], display_name="b"
    )
    session.add(partner)
    session.commit()
    return partner


def run_import(session: Session, partner: Partner, path: Path, chunk: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in import_csv(session, partner, f, chunk_size=chunk):
            counts[row.status] = counts.get(row.status, 0) + 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp()) / "contacts.csv"
    write_file(path, args.rows)
    size = path.stat().st_size
    engine = fresh_engine(args.database_url)
    brand_id = new_brand(engine)
    print(f"file: {args.rows} rows, {size / 1e6:.1f} MB; database {engine.dialect.name}")

    with Session(engine, expire_on_commit=False) as session:
        partner = new_partner(session, brand_id)
        start = time.perf_counter()
        counts = run_import(session, partner, path, args.chunk)
        elapsed = time.perf_counter() - start
        print(f"import:    {args.rows / elapsed:8.0f} rows/s ({elapsed:.1f} s) {counts}")
        start = time.perf_counter()
        counts = run_import(session, partner, path, args.chunk)
        elapsed = time.perf_counter() - start
        print(f"re-import: {args.rows / elapsed:8.0f} rows/s ({elapsed:.1f} s) {counts}")

        other = new_partner(session, brand_id)
        tracemalloc.start()
        run_import(session, other, path, args.chunk)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(f"streamed import peak: {peak / 1e6:7.1f} MB = {peak / size:.2f} x file size")

    tracemalloc.start()
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    _, naive = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del rows
    print(f"list(DictReader) peak: {naive / 1e6:7.1f} MB = {naive / size:.2f} x file size")
    print(f"streamed / naive peak: {peak / naive:.2f}")
    engine.dispose()


if __name__ == "__main__":
    main()
