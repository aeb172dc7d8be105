"""The diagrams the portal shows: the lifecycle, drawn from the state machine itself (the same
class that drives the workflow and renders the README's mermaid) with the current state marked,
and an approval policy's stages, drawn from the spec (with approvals.diagram's mermaid)."""

from __future__ import annotations

from dataclasses import dataclass

from approvals import diagram as policy_diagram
from approvals.builtin import stage_title
from approvals.facts import describe
from approvals.policy import PolicySpec, TimeoutAction
from i18n.translate import N_, gettext, translated
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


@dataclass(frozen=True)
class StageBox:
    """One stage of an approval policy as the portal draws it."""

    title: str
    name: str
    who: str
    condition: str  # "" when the stage always applies
    timeouts: list[str]


def policy(spec: PolicySpec, names: dict[int, str] | None = None) -> list[StageBox]:
    """The stages in order, in the reader's words (the same as the mermaid source next to
    them): what approvals says is a core.said.Said, translated here; HQ's own stage labels and
    people's names are data and stay as written."""
    names = names or {}
    boxes = []
    for stage in spec.stages:
        timeouts = []
        for t in stage.timeouts:
            after = policy_diagram.duration(t.after)
            if t.action == TimeoutAction.escalate:
                to = ", ".join(translated(a.label(names)) for a in t.to) or gettext("nobody")
                timeouts.append(gettext("after %(after)s: escalate to %(to)s", after=after, to=to))
            else:
                what = gettext(TIMEOUT_WORDS[t.action])
                timeouts.append(gettext("after %(after)s: %(what)s", after=after, what=what))
        boxes.append(
            StageBox(
                title=translated(stage_title(stage)),
                name=stage.name,
                who=capitalised(translated(policy_diagram.who(stage, names))),
                condition=translated(describe(stage.when)) if stage.when is not None else "",
                timeouts=timeouts,
            )
        )
    return boxes


TIMEOUT_WORDS = {
    TimeoutAction.remind: N_("remind the approvers"),
    TimeoutAction.approve: N_("approved by timeout"),
    TimeoutAction.reject: N_("rejected by timeout"),
    TimeoutAction.expire: N_("the approval expires"),
    TimeoutAction.escalate: N_("escalate"),
}


def policy_mermaid(spec: PolicySpec, names: dict[int, str] | None = None) -> str:
    return policy_diagram.mermaid(spec, names, say=translated)


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
