"""A policy drawn from the policy itself (mermaid flowchart): stages, who decides and by which
rule, conditions that skip a stage, and what each timeout does. The README shows the built-in
ones; the portal and `GET /approval-policies/{id}/diagram` every policy.
"""

from __future__ import annotations

from approvals.facts import describe
from approvals.policy import PolicySpec, Rule, Stage, TimeoutAction


def _text(value: str) -> str:
    """Mermaid label text: no quotes or brackets that would end the label."""
    return value.replace('"', "#quot;").replace("[", "(").replace("]", ")").replace("\n", " ")[:160]


def duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def who(stage: Stage, names: dict[int, str]) -> str:
    """Who decides a stage, in words: the rule and the approvers."""
    people = ", ".join(a.label(names) for a in stage.approvers) or "nobody"
    if stage.rule == Rule.all:
        return f"all of: {people}"
    if stage.rule == Rule.quorum:
        return f"{stage.quorum} approvals from: {people}"
    return f"any one of: {people}"


def mermaid(spec: PolicySpec, names: dict[int, str] | None = None) -> str:
    """`names` maps named approvers' user ids to what to show."""
    names = names or {}
    lines = ["flowchart TD", '    submitted(["Submitted"])', '    approved(["Approved"])']
    ends = {"changes": "Changes requested: back to the partner", "rejected": "Rejected"}
    if not spec.stages:
        lines.append("    submitted --> approved")
        return "\n".join(lines) + "\n"
    entries = [f"when{i}" if s.when else f"stage{i}" for i, s in enumerate(spec.stages)]
    entries.append("approved")
    lines.append(f"    submitted --> {entries[0]}")
    uses_expired = False
    for i, stage in enumerate(spec.stages):
        node = f"stage{i}"
        label = f"{_text(stage.title)}<br/>{_text(who(stage, names))}"
        lines.append(f'    {node}["{label}"]')
        if stage.when is not None:
            lines.append(f'    when{i}{{"{_text(describe(stage.when))}?"}}')
            lines.append(f"    when{i} -->|yes| {node}")
            lines.append(f"    when{i} -->|no| {entries[i + 1]}")
        lines.append(f"    {node} -->|approved| {entries[i + 1]}")
        lines.append(f"    {node} -.->|request changes| changes")
        lines.append(f"    {node} -.->|reject| rejected")
        for timeout in stage.timeouts:
            after = f"after {duration(timeout.after)}"
            if timeout.action == TimeoutAction.remind:
                lines.append(f"    {node} -.->|{after}: remind| {node}")
            elif timeout.action == TimeoutAction.escalate:
                to = _text(", ".join(a.label(names) for a in timeout.to))
                lines.append(f"    {node} -.->|{after}: escalate to {to}| {node}")
            elif timeout.action == TimeoutAction.approve:
                lines.append(f"    {node} -.->|{after}: approved by timeout| {entries[i + 1]}")
            elif timeout.action == TimeoutAction.reject:
                lines.append(f"    {node} -.->|{after}: rejected by timeout| rejected")
            else:
                uses_expired = True
                lines.append(f"    {node} -.->|{after}: expires| expired")
    lines += [f'    {key}(["{text}"])' for key, text in ends.items()]
    if uses_expired:
        lines.append('    expired(["Expired"])')
    return "\n".join(lines) + "\n"
