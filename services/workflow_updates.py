"""Calling workflow Updates from the API: refusals become the right HTTP problem.

A workflow refuses with an ApplicationError whose type is the kind of refusal (not_found,
invalid, forbidden, conflict, stale) and whose details carry every field at fault, so the API
and the portal show all of them, not the first one parsed back from a message. The workflow
service being unreachable is not handled here: api/problems.py maps it to 503 in one place.
"""

from __future__ import annotations

from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from core.errors import Conflict, FieldError, Forbidden, NotFound, Problem
from domain import refusals

R = TypeVar("R")


class StaleDecision(Conflict):
    """A decision about a submission that is no longer the one waiting (409)."""


_TYPE_TO_PROBLEM = {"forbidden": Forbidden, "conflict": Conflict, "stale": StaleDecision}


def _field_errors(cause: ApplicationError) -> list[dict[str, str]]:
    """Every field error the refusal carries (refusals of executions started before details
    existed carry none: the message names its one field)."""
    details = cause.details[0] if cause.details else None
    if not isinstance(details, dict):
        return []
    errors = details.get("errors") or []
    return [
        {"field": str(e.get("field", "")), "message": str(e.get("message", ""))}
        for e in errors
        if isinstance(e, dict)
    ]


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
        errors = _field_errors(cause)
        if errors:
            return Problem(message, status=422, title="Invalid input", errors=errors)
        field, _, text = message.partition(": ")
        return FieldError(field, text) if text else Problem(message, status=422)
    problem_cls = _TYPE_TO_PROBLEM.get(cause.type or "", Conflict)
    return problem_cls(_words(cause) or message)


def _words(cause: ApplicationError) -> str | None:
    """The refusal's English with its catalogue words (domain.refusals), so the portal can
    show it in the reader's language; None when the workflow sent plain English only."""
    details = cause.details[0] if cause.details else None
    found = refusals.rebuilt(details.get("said")) if isinstance(details, dict) else None
    return found if found is not None and str(found) == cause.message else None


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
    return result


__all__ = ["NotFound", "problem_from", "update_with_start"]
