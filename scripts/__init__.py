"""Operational entry points run by the Makefile and ops (migrate, seed)."""
