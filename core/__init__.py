"""Cross-cutting infrastructure: settings, database engine, Temporal connection."""
