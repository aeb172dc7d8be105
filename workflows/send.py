"""SendWorkflow: a partner campaign's audience, snapshotted into the ledger and sent in batches.

Only ids and counts enter history: the snapshot and every batch run in activities on the
delivery task queue (hundreds of recipients per call, heartbeating progress), and the run
continues as new before its history grows large.

A send never stalls silently. What goes wrong is sorted by whom it concerns:
- one recipient (message cannot be composed, refused for now): the batch records it on the
  row and goes on; rows left pending get another pass after a short wait, and fail with their
  reason after a bounded number of attempts;
- the account refused as a whole (suspended, paused): the send pauses, approvers and HQ are
  told, and it retries after `resume_after` or at once on the `resume` signal;
- a fault of the platform underneath (outbox storage unwritable or full, database locked or
  down, provider unreachable, a step that kept failing): the send pauses with the reason (the
  `pause` query, the API, the portal, an audit event) and probes with growing waits until the
  fault clears, then resumes on its own (audited).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from domain.states import DeliveryStatus, PauseKind
    from models.workflow_io import (
        AudienceSnapshot,
        BatchOutcome,
        SendBatchInput,
        SendInput,
        SendPause,
        SendPaused,
        SendResult,
    )

DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=8,  # about two minutes; then the send pauses and says why
)
# A batch that failed (a bug, a worker lost): back off up to minutes; a run of failures that
# outlasts the attempts becomes a visible pause instead of an endless retry. Throttles are
# absorbed inside the batch (services.delivery) and never reach this policy.
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=8,
)
# Batches heartbeat after every message: a worker that died is noticed within this time and
# the batch is retried elsewhere (rows already sent are never picked again).
HEARTBEAT = timedelta(seconds=10)
NOTICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5), maximum_attempts=8
)
# Recording a fault must not hold the probing up when the fault is the database itself.
FAULT_NOTICE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
PROBE_FIRST = 5  # seconds before the first probe after a fault; doubles up to PROBE_MAX
PROBE_MAX = 300
RETRY_PASS_WAIT = 10  # seconds before another pass over rows that failed for now, times the pass


RUNNING = "running"  # the `pause` memo of a send that is not paused


def describe_activity_failure(err: ActivityError) -> str:
    """The reason a step kept failing, for people (the pause and the audit trail)."""
    cause = err.cause
    if isinstance(cause, ActivityTimeout):
        return "a worker stopped answering in the middle of a batch (timed out)"
    if isinstance(cause, ApplicationError):
        kind = f"{cause.type}: " if cause.type else ""
        return f"{kind}{cause.message}"[:1000]
    return str(cause or err)[:1000]


@workflow.defn
class SendWorkflow:
    @workflow.init
    def __init__(self, inp: SendInput) -> None:
        self.inp = inp
        self.counts: dict[str, int] = dict(inp.counts)
        self.paused: SendPause | None = None
        self.resume_requested = False
        self.probes = 0  # probes since the current fault began

    @workflow.run
    async def run(self, inp: SendInput) -> SendResult:
        self._show(None)  # the memo says "running" from the start: readers need no query
        if not inp.snapshotted:
            snap: AudienceSnapshot = await self._step(
                "snapshot_audience",
                inp.partner_campaign_id,
                AudienceSnapshot,
                limit=timedelta(minutes=10),
                retry=DB_RETRY,
            )
            self.inp.sms_rows = snap.eligible_sms
        if not inp.sms_phase:
            late = await self._passes("send_delivery_batch")
            if late is not None:
                return late
        # SMS rows go after the email passes (services.sms.delivery); sends without any
        # never reach this marker, so their histories are as before.
        if self.inp.sms_rows and workflow.patched("send-sms"):
            late = await self._passes("send_sms_batch")
            if late is not None:
                return late
        counts = await self._final_counts()
        return SendResult(
            partner_campaign_id=inp.partner_campaign_id,
            counts=counts,
            outcome="partially_sent" if counts.get("failed", 0) else "sent",
        )

    async def _passes(self, activity: str) -> SendResult | None:
        """Batches of one channel until every row is final: passes from the cursor to the end,
        again from the start while rows failed for now. A SendResult when the send stops late;
        continues as new (carrying the cursor and the phase) when the history grows."""
        inp = self.inp
        sms = activity == "send_sms_batch"
        cursor = inp.after_id if sms == inp.sms_phase else 0
        swept = cursor == 0  # a pass from the start sees every row left behind
        left = 0  # rows of this pass that failed for now and want another pass
        batches = 0
        while True:
            outcome: BatchOutcome = await self._step(
                activity,
                SendBatchInput(
                    partner_campaign_id=inp.partner_campaign_id,
                    limit=inp.batch_size,
                    after_id=cursor,
                    now=workflow.now() if sms else None,
                ),
                BatchOutcome,
                limit=timedelta(minutes=30),
                retry=SEND_RETRY,
            )
            for key in (DeliveryStatus.sent, DeliveryStatus.failed, DeliveryStatus.suppressed):
                self.counts[key] = self.counts.get(key, 0) + getattr(outcome, key)
            if outcome.late is not None and workflow.patched("send-late-stop"):
                return await self._late(outcome.late)
            cursor = outcome.last_id
            left += outcome.retry_later
            batches += 1
            if sms and outcome.quiet_until is not None:
                await self._quiet(outcome.quiet_until, outcome.quiet or "quiet hours")
            elif outcome.paused is not None:
                await self._pause(outcome.paused)
                cursor, swept, left = 0, False, 0  # the refused row and everything after it
            elif outcome.fault is not None:
                await self._fault(outcome.fault)  # then on from the row that met the fault
            else:
                await self._cleared()
                # A batch cut short by throttles saw fewer rows but is not the end of a pass.
                cut_short = outcome.cut_short and workflow.patched("send-cut-short")
                if outcome.seen < inp.batch_size and not cut_short:  # the end of a pass
                    if swept and left == 0:
                        return None
                    if swept:  # rows failed for now: give them a moment, then another pass
                        self.inp.retry_passes += 1
                        await workflow.sleep(RETRY_PASS_WAIT * self.inp.retry_passes)
                    cursor, swept, left = 0, True, 0
            if batches >= inp.batches_per_run or workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    inp.model_copy(
                        update={
                            "snapshotted": True,
                            "after_id": cursor,
                            "counts": self.counts,
                            "retry_passes": self.inp.retry_passes,
                            "paused_notices": self.inp.paused_notices,
                            "sms_rows": self.inp.sms_rows,
                            "sms_phase": sms,
                        }
                    )
                )

    async def _quiet(self, until: datetime, reason: str) -> None:
        """Quiet hours at the partner: a durable timer until they end, shown as a pause that
        clears by itself (the memo, the query, the workflow's details)."""
        self._show(SendPause(reason=reason, kind=PauseKind.quiet, since=workflow.now()))
        workflow.set_current_details(f"waiting: {reason}")
        wait = until - workflow.now()
        if wait > timedelta(0):
            await workflow.sleep(wait)
        self._show(None)
        workflow.set_current_details("sending")

    async def _late(self, reason: str) -> SendResult:
        """The deadline passed (a long outage, a restored backup): stop, tell people."""
        workflow.set_current_details(f"stopped: {reason}")
        self.inp.paused_notices += 1
        try:
            await workflow.execute_activity(
                "notify_send_late",
                SendPaused(
                    partner_campaign_id=self.inp.partner_campaign_id,
                    reason=reason,
                    key=f"{workflow.info().workflow_id}:late:{self.inp.paused_notices}",
                ),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=NOTICE_RETRY,
            )
        except ActivityError:  # the stop holds even when nobody could be told; it is logged
            workflow.logger.warning("late notice for %s failed", self.inp.partner_campaign_id)
        counts = await self._final_counts()
        return SendResult(
            partner_campaign_id=self.inp.partner_campaign_id,
            counts=counts,
            outcome="late",
            reason=reason,
        )

    async def _final_counts(self) -> dict[str, int]:
        """The ledger's counts as the send ends, whichever way it ends."""
        counts: dict[str, int] = await self._step(
            "delivery_counts",
            self.inp.partner_campaign_id,
            dict[str, int],
            limit=timedelta(seconds=60),
            retry=DB_RETRY,
            heartbeat=None,
        )
        self.counts = counts
        return counts

    async def _step(
        self,
        activity: str,
        arg: Any,
        result_type: Any,
        *,
        limit: timedelta,
        retry: RetryPolicy,
        heartbeat: timedelta | None = HEARTBEAT,
    ) -> Any:
        """One activity until it succeeds: a step that exhausts its retries pauses the send
        with the reason and is tried again after the probe wait, never retried silently
        forever. A failure the activity marks non-retryable (a bug, a missing row) ends the
        workflow as before."""
        while True:
            try:
                return await workflow.execute_activity(
                    activity,
                    arg,
                    result_type=result_type,
                    task_queue=self.inp.delivery_task_queue,
                    start_to_close_timeout=limit,
                    heartbeat_timeout=heartbeat,
                    retry_policy=retry,
                )
            except ActivityError as err:
                cause = err.cause
                if isinstance(cause, ApplicationError) and cause.non_retryable:
                    raise
                await self._fault(describe_activity_failure(err))

    async def _pause(self, reason: str) -> None:
        """The account was refused: tell people, wait for a fix or the resume timer."""
        # Reset before anyone can see the pause: a resume that arrives while the notice is
        # still going out must not be forgotten.
        self.resume_requested = False
        self._show(SendPause(reason=reason, kind=PauseKind.transport, since=workflow.now()))
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
        self._show(None)
        workflow.set_current_details("sending")

    async def _fault(self, reason: str) -> None:
        """The platform underneath failed: stay paused (visible, audited once) and probe with
        growing waits; a `resume` signal probes at once."""
        if self.paused is None or self.paused.kind != PauseKind.fault:
            self.inp.paused_notices += 1
            self.probes = 0
            self._show(SendPause(reason=reason, kind=PauseKind.fault, since=workflow.now()))
            await self._record("notify_send_paused", reason, "paused", FAULT_NOTICE_RETRY)
        elif reason != self.paused.reason:
            self._show(self.paused.model_copy(update={"reason": reason}))
        workflow.set_current_details(f"paused: {reason}")
        self.resume_requested = False
        wait = min(PROBE_FIRST * 2**self.probes, PROBE_MAX)
        self.probes += 1
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self.resume_requested, timeout=timedelta(seconds=wait)
            )

    async def _cleared(self) -> None:
        """A batch went through: a fault that paused the send is over (audited)."""
        if self.paused is None or self.paused.kind != PauseKind.fault:
            return
        reason = self.paused.reason
        self._show(None)
        self.probes = 0
        workflow.set_current_details("sending")
        await self._record("record_send_resumed", reason, "resumed", FAULT_NOTICE_RETRY)

    async def _record(self, activity: str, reason: str, what: str, retry: RetryPolicy) -> None:
        try:
            await workflow.execute_activity(
                activity,
                SendPaused(
                    partner_campaign_id=self.inp.partner_campaign_id,
                    reason=reason,
                    key=f"{workflow.info().workflow_id}:{what}:{self.inp.paused_notices}",
                    kind=PauseKind.fault,
                ),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=retry,
            )
        except ActivityError:  # the database may be the fault: the workflow still knows
            workflow.logger.warning("%s for %s not recorded", what, self.inp.partner_campaign_id)

    def _show(self, pause: SendPause | None) -> None:
        """Set the pause and publish it as the `pause` memo, which the API reads with one
        describe call: it answers even while no worker runs (a query would need one)."""
        self.paused = pause
        if workflow.patched("send-pause-memo"):
            workflow.upsert_memo({"pause": pause or RUNNING})

    @workflow.signal
    def resume(self) -> None:
        self.resume_requested = True

    @workflow.query
    def progress(self) -> dict[str, int]:
        return dict(self.counts)

    @workflow.query
    def paused_reason(self) -> str | None:
        """Why the send is paused, or None while it runs."""
        return self.paused.reason if self.paused else None

    @workflow.query
    def pause(self) -> SendPause | None:
        """Why, since when, and whether people must act (transport) or it clears by itself."""
        return self.paused
