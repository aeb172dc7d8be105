"""A journey's design drawn: a mermaid flowchart (the API's diagram, the portal's source) and
the same steps in words (what the portal shows a partner on a phone)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from domain.journeys import BranchOn, TriggerKind
from models.journey_spec import BranchStep, EndStep, JourneySpec, SendStep, WaitStep

Step = SendStep | WaitStep | BranchStep | EndStep


def _clock(t: time) -> str:
    return t.strftime("%H:%M")


def trigger_words(spec: JourneySpec) -> str:
    t = spec.trigger
    if t.kind == TriggerKind.contact_created:
        return "A new contact is added"
    if t.kind == TriggerKind.consent_granted:
        return "A contact gives email consent"
    if t.kind == TriggerKind.date_attribute:
        return f"On the contact's {t.attribute}, at {_clock(t.local_time)} local time"
    return f"A contact has had no event for {t.days} days"


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def step_words(step: Step, names: dict[int, str] | None = None) -> str:
    """One step in words; `names` gives template versions (by id) a readable name."""
    if isinstance(step, SendStep):
        name = (names or {}).get(step.template_version_id)
        return f"Send the email {name or f'of template version {step.template_version_id}'}"
    if isinstance(step, WaitStep):
        parts = []
        if step.days:
            parts.append(_days(step.days))
        if step.until_local_time is not None:
            parts.append(f"until {_clock(step.until_local_time)} local time")
        return "Wait " + (", then ".join(parts) if parts else "0 days")
    if isinstance(step, BranchStep):
        if step.on == BranchOn.attribute:
            return f"If {step.attribute} is “{step.equals}”"
        return f"If the previous email was {step.on.value}"
    return "End"


def exit_words(spec: JourneySpec) -> str:
    extra = spec.exit.converted_attribute
    base = "A contact leaves when they unsubscribe or are erased"
    return base + (f", or once {extra} is set (converted)" if extra else "")


@dataclass(frozen=True)
class Box:
    """One step as the portal draws it: indented under its branch, "yes"/"no" as the lead."""

    step_id: str
    kind: str
    text: str
    depth: int
    lead: str  # "", "yes" or "no"
    again: bool = False  # a step met before (two ways join): drawn as "continue at"


def boxes(spec: JourneySpec, names: dict[int, str] | None = None) -> list[Box]:
    """The steps in the order a contact meets them (depth first from the entry; a branch's
    two ways follow it, indented)."""
    out: list[Box] = []
    seen: set[str] = set()

    def walk(step_id: str, depth: int, lead: str) -> None:
        step = spec.step(step_id)
        if step_id in seen:
            out.append(Box(step_id, step.kind.value, f"continue at “{step_id}”", depth, lead, True))
            return
        seen.add(step_id)
        out.append(Box(step_id, step.kind.value, step_words(step, names), depth, lead))
        if isinstance(step, BranchStep):
            walk(step.then, depth + 1, "yes")
            walk(step.otherwise, depth + 1, "no")
        elif isinstance(step, SendStep | WaitStep) and step.next:
            walk(step.next, depth, "")

    walk(spec.entry, 0, "")
    return out


def summary(spec: JourneySpec, names: dict[int, str] | None = None) -> list[str]:
    """The journey in sentences: the trigger, each step (indented under a branch), the exit."""
    lines = [f"Starts when: {trigger_words(spec)}."]
    for b in boxes(spec, names):
        lead = f"{b.lead}: " if b.lead else ""
        lines.append(f"{'  ' * b.depth}{lead}{b.text}.")
    lines.append(f"{exit_words(spec)}.")
    return lines


def _label(text: str) -> str:
    """Mermaid takes "..." labels; quotes and brackets in them are escaped as entities."""
    return '"' + text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;") + '"'


def _id(step_id: str) -> str:
    """Node ids: a prefix keeps step ids such as "end" clear of mermaid's keywords."""
    return f"s_{step_id}"


def _node(step: Step, names: dict[int, str] | None) -> str:
    label = _label(f"{step.id}: {step_words(step, names)}")
    node = _id(step.id)
    if isinstance(step, BranchStep):
        return f"  {node}{{{label}}}"
    if isinstance(step, EndStep):
        return f"  {node}([{label}])"
    if isinstance(step, WaitStep):
        return f"  {node}[/{label}/]"
    return f"  {node}[{label}]"


def mermaid(spec: JourneySpec, names: dict[int, str] | None = None) -> str:
    """flowchart TD: the trigger, every step with its shape (send a box, wait a slanted box,
    branch a diamond, end a stadium), the edges (a branch's labelled yes/no), and an exit
    note. Node ids are the step ids (the spec restricts them to [a-z0-9_]) with a prefix."""
    out = [
        "flowchart TD",
        f"  trigger(({_label(trigger_words(spec))}))",
        f"  trigger --> {_id(spec.entry)}",
    ]
    out.extend(_node(s, names) for s in spec.steps)
    for s in spec.steps:
        if isinstance(s, BranchStep):
            out.append(f"  {_id(s.id)} -- yes --> {_id(s.then)}")
            out.append(f"  {_id(s.id)} -- no --> {_id(s.otherwise)}")
        elif isinstance(s, SendStep | WaitStep):
            if s.next:
                out.append(f"  {_id(s.id)} --> {_id(s.next)}")
            else:
                out.append(f"  {_id(s.id)} --> x_{s.id}([End])")
    out.append(f"  exit>{_label(exit_words(spec))}]")
    return "\n".join(out) + "\n"
