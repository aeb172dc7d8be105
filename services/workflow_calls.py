"""Calling workflow Updates from the API: refusals become the right HTTP problem."""

from __future__ import annotations

from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from core.errors import Conflict, FieldError, Forbidden, NotFound, Problem

R = TypeVar("R")


class StaleDecision(Conflict):
    """A decision about a submission that is no longer the one waiting (409)."""


_TYPE_TO_PROBLEM = {"forbidden": Forbidden, "conflict": Conflict, "stale": StaleDecision}


def problem_from(err: WorkflowUpdateFailedError, label: str) -> Problem:
    cause: BaseException | None = err.cause
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = getattr(cause, "cause", None)
    if not isinstance(cause, ApplicationError):
        return Problem(f"{label}: the action failed", status=502, title="Workflow error")
    message = cause.message
    if cause.type == "not_found":
        return Problem(message, status=404, title="Not found")
    if cause.type == "invalid":
        field, _, text = message.partition(": ")
        return FieldError(field, text) if text else Problem(message, status=422)
    problem_cls = _TYPE_TO_PROBLEM.get(cause.type or "", Conflict)
    return problem_cls(message)


async def update_with_start(
    client: Client,
    update: Any,
    arg: Any,
    *,
    workflow: Any,
    workflow_arg: Any,
    workflow_id: str,
    task_queue: str,
    result_type: type[R],
    label: str,
) -> R:
    """Send an Update, starting the workflow first if it is not running (heals a version whose
    workflow start failed after its row was committed)."""
    start = WithStartWorkflowOperation(
        workflow,
        workflow_arg,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    try:
        result: R = await client.execute_update_with_start_workflow(
            update, arg, start_workflow_operation=start, result_type=result_type
        )
    except WorkflowUpdateFailedError as err:
        raise problem_from(err, label) from err
    except RPCError as err:
        raise Problem(f"{label}: workflow service error: {err.message}", status=503) from err
    return result


__all__ = ["NotFound", "problem_from", "update_with_start"]
