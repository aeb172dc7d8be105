"""AuditCheckpointWorkflow: one tick of the audit checkpoint schedule.

The schedule (created by the worker, see workflows/audit_schedule.py) starts it every
AUDIT_CHECKPOINT_INTERVAL; the activity does all the work (database, checkpoint store), the
workflow only runs it and fails visibly when a brand's chain no longer continues its latest
checkpoint, so the failed run shows up in the Temporal UI until someone looks.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.workflow_io import CheckpointSweepResult

WRITE_AUDIT_CHECKPOINTS = "write_audit_checkpoints"
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=5,
)


@workflow.defn
class AuditCheckpointWorkflow:
    @workflow.run
    async def run(self) -> CheckpointSweepResult:
        result: CheckpointSweepResult = await workflow.execute_activity(
            WRITE_AUDIT_CHECKPOINTS,
            result_type=CheckpointSweepResult,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=STORE_RETRY,
        )
        if result.refused:
            raise ApplicationError(
                "audit checkpoints refused, the chain no longer continues the latest "
                "checkpoint: " + "; ".join(result.refused),
                result.model_dump(),
                type="AuditCheckpointRefused",
                non_retryable=True,
            )
        return result
