"""SendWorkflow: a partner campaign's audience, snapshotted into the ledger and sent in batches.

Only ids and counts enter history: the snapshot and every batch run in activities on the
delivery task queue (hundreds of recipients per call, heartbeating progress), and the run
continues as new before its history grows large. When the transport refuses everything (an
account paused or suspended) the send pauses instead of burning through the list: approvers and
HQ are told, and it retries after `resume_after` or at once on the `resume` signal.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from models.workflow_io import (
        AudienceSnapshot,
        BatchOutcome,
        SendBatchInput,
        SendInput,
        SendPaused,
        SendResult,
    )

DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
# Throttling and transient provider errors: back off up to minutes (SES asks for that).
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
# Batches heartbeat after every message: a worker that died is noticed within this time and
# the batch is retried elsewhere (rows already sent are never picked again).
HEARTBEAT = timedelta(seconds=10)
NOTICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5), maximum_attempts=8
)


def send_workflow_id(partner_campaign_id: int) -> str:
    return f"send-{partner_campaign_id}"


@workflow.defn
class SendWorkflow:
    @workflow.init
    def __init__(self, inp: SendInput) -> None:
        self.inp = inp
        self.counts: dict[str, int] = dict(inp.counts)
        self.paused: str | None = None
        self.resume_requested = False

    @workflow.run
    async def run(self, inp: SendInput) -> SendResult:
        if not inp.snapshotted:
            await workflow.execute_activity(
                "snapshot_audience",
                inp.partner_campaign_id,
                result_type=AudienceSnapshot,
                task_queue=inp.delivery_task_queue,
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=HEARTBEAT,
                retry_policy=DB_RETRY,
            )
        cursor = inp.after_id
        swept = cursor == 0  # a pass from the start sees every row left behind
        batches = 0
        while True:
            outcome: BatchOutcome = await workflow.execute_activity(
                "send_delivery_batch",
                SendBatchInput(
                    partner_campaign_id=inp.partner_campaign_id,
                    limit=inp.batch_size,
                    after_id=cursor,
                ),
                result_type=BatchOutcome,
                task_queue=inp.delivery_task_queue,
                start_to_close_timeout=timedelta(minutes=30),
                heartbeat_timeout=HEARTBEAT,
                retry_policy=SEND_RETRY,
            )
            for key in ("sent", "failed", "suppressed"):
                self.counts[key] = self.counts.get(key, 0) + getattr(outcome, key)
            cursor = outcome.last_id
            batches += 1
            if outcome.paused is not None:
                await self._pause(outcome.paused)
                cursor, swept = 0, False  # the refused row and everything after it again
            elif outcome.seen < inp.batch_size:
                if swept:
                    break
                cursor, swept = 0, True  # one more pass for rows a retry left behind
            if batches >= inp.batches_per_run or workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    inp.model_copy(
                        update={"snapshotted": True, "after_id": cursor, "counts": self.counts}
                    )
                )
        counts: dict[str, int] = await workflow.execute_activity(
            "delivery_counts",
            inp.partner_campaign_id,
            result_type=dict[str, int],
            task_queue=inp.delivery_task_queue,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=DB_RETRY,
        )
        self.counts = counts
        return SendResult(
            partner_campaign_id=inp.partner_campaign_id,
            counts=counts,
            outcome="partially_sent" if counts.get("failed", 0) else "sent",
        )

    async def _pause(self, reason: str) -> None:
        # Reset before anyone can see the pause: a resume that arrives while the notice is
        # still going out must not be forgotten.
        self.resume_requested = False
        self.paused = reason
        self.inp.paused_notices += 1
        workflow.set_current_details(f"paused: {reason}")
        try:
            await workflow.execute_activity(
                "notify_send_paused",
                SendPaused(
                    partner_campaign_id=self.inp.partner_campaign_id,
                    reason=reason,
                    key=f"{workflow.info().workflow_id}:paused:{self.inp.paused_notices}",
                ),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=NOTICE_RETRY,
            )
        except Exception:  # the pause holds even when nobody could be told; it is logged
            workflow.logger.warning("pause notice for %s failed", self.inp.partner_campaign_id)
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self.resume_requested, timeout=timedelta(seconds=self.inp.resume_after)
            )
        self.paused = None
        workflow.set_current_details("sending")

    @workflow.signal
    def resume(self) -> None:
        self.resume_requested = True

    @workflow.query
    def progress(self) -> dict[str, int]:
        return dict(self.counts)

    @workflow.query
    def paused_reason(self) -> str | None:
        """Why the send is paused (the transport's refusal), or None while it runs."""
        return self.paused
