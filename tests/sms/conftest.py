"""The SMS tests drive the same SendWorkflow worker as the delivery tests."""

from __future__ import annotations

from tests.delivery.conftest import delivery_worker

__all__ = ["delivery_worker"]
