"""Temporal workflow definitions: deterministic, no I/O; every side effect is an activity."""
