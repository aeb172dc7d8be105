"""A policy drawn from the policy itself (mermaid flowchart): stages, who decides and by which
rule, conditions that skip a stage, and what each timeout does. The README shows the built-in
ones; the portal and `GET /approval-policies/{id}/diagram` every policy.
"""

from __future__ import annotations

from collections.abc import Callable

from approvals.builtin import stage_title
from approvals.facts import describe
from approvals.policy import Approver, PolicySpec, Rule, Stage, TimeoutAction
from core.said import Listing, said


def _text(value: str) -> str:
    """Mermaid label text: no quotes or brackets that would end the label."""
    return value.replace('"', "#quot;").replace("[", "(").replace("]", ")").replace("\n", " ")[:160]


def duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def who(stage: Stage, names: dict[int, str]) -> str:
    """Who decides a stage, in words: the rule and the approvers (a core.said.Said: English
    here and in the API, translated by the portal)."""
    people: object = Listing(a.label(names) for a in stage.approvers) or said("nobody")
    if stage.rule == Rule.all:
        return said("all of: %(people)s", people=people)
    if stage.rule == Rule.quorum:
        return said("%(count)s approvals from: %(people)s", count=stage.quorum, people=people)
    return said("any one of: %(people)s", people=people)


def mermaid(
    spec: PolicySpec, names: dict[int, str] | None = None, say: Callable[[str], str] = str
) -> str:
    """`names` maps named approvers' user ids to what to show; `say` writes the words (English
    by default, as the API and the README show them; the portal passes its translation)."""
    names = names or {}
    lines = [
        "flowchart TD",
        f'    submitted(["{_text(say(said("Submitted")))}"])',
        f'    approved(["{_text(say(said("Approved")))}"])',
    ]
    ends = {
        "changes": said("Changes requested: back to the partner"),
        "rejected": said("Rejected"),
    }
    if not spec.stages:
        lines.append("    submitted --> approved")
        return "\n".join(lines) + "\n"
    entries = [f"when{i}" if s.when else f"stage{i}" for i, s in enumerate(spec.stages)]
    entries.append("approved")
    lines.append(f"    submitted --> {entries[0]}")
    uses_expired = False
    yes, no = _text(say(said("yes"))), _text(say(said("no")))
    passed, changes = _text(say(said("approved"))), _text(say(said("request changes")))
    reject = _text(say(said("reject")))
    for i, stage in enumerate(spec.stages):
        node = f"stage{i}"
        label = f"{_text(say(stage_title(stage)))}<br/>{_text(say(who(stage, names)))}"
        lines.append(f'    {node}["{label}"]')
        if stage.when is not None:
            lines.append(f'    when{i}{{"{_text(say(describe(stage.when)))}?"}}')
            lines.append(f"    when{i} -->|{yes}| {node}")
            lines.append(f"    when{i} -->|{no}| {entries[i + 1]}")
        lines.append(f"    {node} -->|{passed}| {entries[i + 1]}")
        lines.append(f"    {node} -.->|{changes}| changes")
        lines.append(f"    {node} -.->|{reject}| rejected")
        for timeout in stage.timeouts:
            after = duration(timeout.after)
            edge = _text(say(_timeout_words(timeout.action, after, timeout.to, names)))
            target = {
                TimeoutAction.approve: entries[i + 1],
                TimeoutAction.reject: "rejected",
                TimeoutAction.expire: "expired",
            }.get(timeout.action, node)
            uses_expired = uses_expired or timeout.action == TimeoutAction.expire
            lines.append(f"    {node} -.->|{edge}| {target}")
    lines += [f'    {key}(["{_text(say(text))}"])' for key, text in ends.items()]
    if uses_expired:
        lines.append(f'    expired(["{_text(say(said("Expired")))}"])')
    return "\n".join(lines) + "\n"


def _timeout_words(
    action: TimeoutAction, after: str, to: list[Approver], names: dict[int, str]
) -> str:
    if action == TimeoutAction.remind:
        return said("after %(after)s: remind", after=after)
    if action == TimeoutAction.escalate:
        people = Listing(a.label(names) for a in to)
        return said("after %(after)s: escalate to %(to)s", after=after, to=people)
    if action == TimeoutAction.approve:
        return said("after %(after)s: approved by timeout", after=after)
    if action == TimeoutAction.reject:
        return said("after %(after)s: rejected by timeout", after=after)
    return said("after %(after)s: expires", after=after)
