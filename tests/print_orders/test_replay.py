"""Recorded print order histories (tests/print_orders/test_e2e.py with --record-histories)
must replay on the current workflow code: a change that breaks them breaks running orders."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.print_order import PrintOrderWorkflow

HISTORIES = Path(__file__).parent.parent / "histories"


@pytest.mark.parametrize(
    "name", ["print_order_delivered", "print_order_rejected", "print_order_cancelled"]
)
async def test_saved_print_order_histories_replay(name: str) -> None:
    history = WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
    await Replayer(
        workflows=[PrintOrderWorkflow], data_converter=pydantic_data_converter
    ).replay_workflow(history)
