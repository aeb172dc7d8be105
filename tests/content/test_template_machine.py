"""The template lifecycle machine on its own: strict, every allowed path and every refusal."""

from __future__ import annotations

import pytest
from statemachine.exceptions import TransitionNotAllowed

from domain.states import TemplateState
from workflows.template_lifecycle import TemplateEvent, allowed_events, next_state

ALLOWED = {
    ("draft", "submit"): "in_review",
    ("in_review", "approve"): "published",
    ("in_review", "request_changes"): "changes_requested",
    ("in_review", "reject"): "rejected",
    ("changes_requested", "revise"): "draft",
    ("published", "retire"): "retired",
}


@pytest.mark.parametrize("state", [s.value for s in TemplateState])
@pytest.mark.parametrize("event", [e.value for e in TemplateEvent])
def test_every_state_event_pair(state: str, event: str) -> None:
    if (state, event) in ALLOWED:
        assert next_state(state, event) == ALLOWED[(state, event)]
        assert event in allowed_events(state)
    else:
        with pytest.raises(TransitionNotAllowed):
            next_state(state, event)
        assert event not in allowed_events(state)


def test_final_states_allow_nothing() -> None:
    assert allowed_events("rejected") == []
    assert allowed_events("retired") == []
