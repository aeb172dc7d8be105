"""WebhookEndpointWorkflow: one per endpoint (`webhook-endpoint-<id>`), delivering its events.

Each round asks the database for the oldest pending event of every subject that is due and
attempts those concurrently (one per subject, so a subject's events go out in order while a
failing one holds back only its own subject); after any attempt it looks again at once,
otherwise it sleeps until the next retry is due or the poll interval passes, whichever is
first. Retry times, the log and disabling live in the rows (services.webhooks.delivery), with
the workflow's clock passed in, so history stays small and the API can redeliver or re-enable
by changing rows and nudging.

How new events reach it: events are captured in the transaction of the audit event, by many
writers (API requests, activities) that have no Temporal client at hand and must not depend on
one; so the workflow polls (WEBHOOK_POLL_SECONDS), and the API's own actions (create, enable,
redeliver, ping) signal-with-start `nudge` after their commit for an immediate round. A lost
nudge costs one poll interval, never an event. It ends when the endpoint is deleted, or
disabled (after emailing the brand's admins when it disabled it; a re-enable starts it
again), and continues as new every ROUNDS_PER_RUN rounds.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from models.webhook_io import (
        WebhookAttemptInput,
        WebhookAttemptResult,
        WebhookDue,
        WebhookDueQuery,
        WebhookEndpointInput,
    )

ROUNDS_PER_RUN = 200
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
)
# The POST has its own timeout (WEBHOOK_TIMEOUT_SECONDS, at most 60 s); this bounds a hung
# worker. A retry of a timed-out attempt may POST again: receivers dedupe on webhook-id.
ATTEMPT_TIMEOUT = timedelta(seconds=90)
ERROR_PAUSE = timedelta(minutes=1)


@workflow.defn(name="WebhookEndpointWorkflow")
class WebhookEndpointWorkflow:
    def __init__(self) -> None:
        self._nudged = False

    @workflow.signal
    def nudge(self) -> None:
        """Something new is waiting (an endpoint created or re-enabled, a redelivery, a ping)."""
        self._nudged = True

    @workflow.run
    async def run(self, inp: WebhookEndpointInput) -> str:
        for _ in range(ROUNDS_PER_RUN):
            self._nudged = False
            due: WebhookDue = await workflow.execute_activity(
                "webhook_due_events",
                WebhookDueQuery(endpoint_id=inp.endpoint_id, now=workflow.now()),
                result_type=WebhookDue,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=DB_RETRY,
            )
            if due.status != "active":
                return due.status
            if due.event_ids:
                results = await asyncio.gather(*(self._attempt(i) for i in due.event_ids))
                if any(r.endpoint_disabled for r in results):
                    await workflow.execute_activity(
                        "notify_webhook_disabled",
                        inp.endpoint_id,
                        result_type=int,
                        start_to_close_timeout=timedelta(minutes=2),
                        retry_policy=DB_RETRY,
                    )
                    return "disabled"
                if any(r.outcome == "error" for r in results):
                    await workflow.sleep(ERROR_PAUSE)  # the database kept failing: not a hot loop
                continue
            with contextlib.suppress(TimeoutError):  # the poll interval or a retry is due
                await workflow.wait_condition(
                    lambda: self._nudged, timeout=timedelta(seconds=due.next_check_seconds)
                )
            if workflow.info().is_continue_as_new_suggested():
                break
        workflow.continue_as_new(inp)

    async def _attempt(self, event_id: int) -> WebhookAttemptResult:
        try:
            result: WebhookAttemptResult = await workflow.execute_activity(
                "deliver_webhook_event",
                WebhookAttemptInput(event_id=event_id, now=workflow.now()),
                result_type=WebhookAttemptResult,
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                retry_policy=DB_RETRY,
            )
        except ActivityError:
            return WebhookAttemptResult(outcome="error")
        return result
