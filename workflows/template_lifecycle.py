"""The template version lifecycle: one python-statemachine class drives the workflow, the
API's refusal messages and the diagram in the docs.

Pure: no I/O in callbacks, no delayed events (it runs inside the workflow sandbox).
"""

from __future__ import annotations

from enum import StrEnum

from statemachine import State, StateMachine

from domain.states import TemplateState


class TemplateEvent(StrEnum):
    submit = "submit"
    approve = "approve"
    request_changes = "request_changes"
    reject = "reject"
    revise = "revise"
    retire = "retire"


class TemplateLifecycle(StateMachine):
    """draft -> in_review -> published -> retired; in_review -> changes_requested -> draft."""

    draft = State("Draft", initial=True, value=TemplateState.draft.value)
    in_review = State("In review", value=TemplateState.in_review.value)
    changes_requested = State("Changes requested", value=TemplateState.changes_requested.value)
    published = State("Published", value=TemplateState.published.value)
    rejected = State("Rejected", final=True, value=TemplateState.rejected.value)
    retired = State("Retired", final=True, value=TemplateState.retired.value)

    submit = draft.to(in_review)
    approve = in_review.to(published)
    request_changes = in_review.to(changes_requested)
    reject = in_review.to(rejected)
    revise = changes_requested.to(draft)
    retire = published.to(retired)


def allowed_events(state: str) -> list[str]:
    machine = TemplateLifecycle(start_value=state)
    return [e.id for e in machine.allowed_events]


def next_state(state: str, event: str) -> str:
    """The state after `event`, or TransitionNotAllowed naming the current state."""
    machine = TemplateLifecycle(start_value=state)
    machine.send(event)
    return str(machine.current_state_value)


def mermaid() -> str:
    return f"{TemplateLifecycle:mermaid}"
