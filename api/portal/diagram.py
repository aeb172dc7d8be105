"""The lifecycle diagram the portal shows, drawn from the state machine itself (the same class
that drives the workflow and renders the README's mermaid), with the current state marked."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.partner_campaign_lifecycle import PartnerCampaignLifecycle, mermaid


@dataclass(frozen=True)
class StateBox:
    id: str
    label: str
    final: bool
    current: bool
    exits: list[tuple[str, str]]  # (event label, target label)


def _words(event_id: str) -> str:
    return event_id.replace("_", " ").capitalize()


def partner_campaign(current: str) -> list[StateBox]:
    boxes = []
    for state in PartnerCampaignLifecycle.states:
        exits = [
            (_words(str(t.event)), t.target.name)
            for t in state.transitions
            if t.target is not None and t.target.id != state.id
        ]
        boxes.append(
            StateBox(
                id=state.id,
                label=state.name,
                final=bool(state.final),
                current=state.id == current,
                exits=exits,
            )
        )
    return boxes


def partner_campaign_mermaid() -> str:
    return mermaid()
