"""Recorded webhook endpoint histories must replay on the current workflow code
(docs/webhooks.md, "Changing the delivery workflow safely")."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.webhook_endpoint import WebhookEndpointWorkflow

HISTORIES = Path(__file__).parent.parent / "histories"


@pytest.mark.parametrize("name", ["webhook_down_then_delivered", "webhook_disabled"])
async def test_saved_webhook_histories_replay(name: str) -> None:
    history = WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
    await Replayer(
        workflows=[WebhookEndpointWorkflow], data_converter=pydantic_data_converter
    ).replay_workflow(history)
