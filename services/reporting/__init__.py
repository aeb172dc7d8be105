"""Reports for HQ and partners: the facts the projections write, the daily rollup, and the
queries over both (see docs/reporting.md)."""
