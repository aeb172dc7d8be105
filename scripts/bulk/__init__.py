"""Large generated data sets for scale work: `python -m scripts.seed --partners N` and
bench.portal_scale. Rows go in with COPY on PostgreSQL and executemany on SQLite."""
