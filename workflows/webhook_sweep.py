"""WebhookSweepWorkflow: one tick of the webhook sweep schedule (core/webhook_schedule.py).

An enabled endpoint whose workflow is not running (the API could not reach Temporal when it
was created or re-enabled, or someone terminated the run) would otherwise wait until the next
worker start; every tick signal-with-starts the workflow of every enabled endpoint. The
activity does the work, so the run shows in the Temporal UI with its count.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

START_WEBHOOK_ENDPOINTS = "start_webhook_endpoints"
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=5,
)


@workflow.defn(name="WebhookSweepWorkflow")
class WebhookSweepWorkflow:
    @workflow.run
    async def run(self) -> int:
        started: int = await workflow.execute_activity(
            START_WEBHOOK_ENDPOINTS,
            result_type=int,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RETRY,
        )
        return started
