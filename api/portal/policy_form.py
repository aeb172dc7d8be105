"""The policy editor's form: stages as indexed fields, read back into a PolicySpec, with the
buttons that add, remove and move stages (submit buttons named `op`, so they work without
JavaScript), and every refusal mapped back to the input it is about.

The form keeps what the user typed (`StageForm` holds strings), so a refused save shows the
same input again with each message next to its field. Field paths from the validators
(`stages.1.quorum`, `spec.stages[1].quorum`, `stages.0.approvers.2.user_id`) become the keys
the template marks (`stages.1.quorum`, `stages.0.approvers`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from approvals.policy import (
    LISTED,
    NUMERIC,
    ApproverRole,
    Fact,
    Operator,
    PolicySpec,
    Resubmit,
    Rule,
    TimeoutAction,
)
from i18n.translate import N_, gettext

UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
MAX_FORM_STAGES = 20
MAX_TIMEOUT_ROWS = 10
_INT = re.compile(r"-?\d{1,12}")
_OP = re.compile(r"^(add|remove|up|down|add_timeout)(?::(\d{1,3}))?$")


@dataclass
class TimeoutForm:
    after: str = ""
    unit: str = "days"
    action: str = ""
    to_roles: list[str] = field(default_factory=list)
    to_users: list[str] = field(default_factory=list)

    @property
    def blank(self) -> bool:
        return not self.after.strip() and not self.action


@dataclass
class StageForm:
    name: str = ""
    label: str = ""
    roles: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    rule: str = Rule.any.value
    quorum: str = ""
    timeouts: list[TimeoutForm] = field(default_factory=list)
    when_fact: str = ""
    when_op: str = ""
    when_value: str = ""
    when_slot: str = ""


@dataclass
class PolicyForm:
    name: str = ""
    description: str = ""
    distinct_deciders: bool = False
    on_resubmit: str = Resubmit.first_stage.value
    stages: list[StageForm] = field(default_factory=list)

    def rows(self) -> list[StageForm]:
        """What the template shows: every stage with one empty timeout row to fill in."""
        for stage in self.stages:
            if len(stage.timeouts) < MAX_TIMEOUT_ROWS and all(not t.blank for t in stage.timeouts):
                stage.timeouts.append(TimeoutForm())
        return self.stages


# From a stored spec ---------------------------------------------------------------------------


def _after_form(seconds: int) -> tuple[str, str]:
    for unit in ("days", "hours", "minutes"):
        if seconds % UNITS[unit] == 0:
            return str(seconds // UNITS[unit]), unit
    return str(round(seconds / 60)), "minutes"


def _value_text(value: int | str | list[int | str]) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def from_spec(spec: PolicySpec, name: str = "", description: str = "") -> PolicyForm:
    stages = []
    for s in spec.stages:
        timeouts = []
        for t in s.timeouts:
            after, unit = _after_form(t.after)
            timeouts.append(
                TimeoutForm(
                    after=after,
                    unit=unit,
                    action=t.action.value,
                    to_roles=[a.role.value for a in t.to if a.role is not None],
                    to_users=[str(a.user_id) for a in t.to if a.user_id is not None],
                )
            )
        stages.append(
            StageForm(
                name=s.name,
                label=s.label,
                roles=[a.role.value for a in s.approvers if a.role is not None],
                users=[str(a.user_id) for a in s.approvers if a.user_id is not None],
                rule=s.rule.value,
                quorum="" if s.quorum is None else str(s.quorum),
                timeouts=timeouts,
                when_fact=s.when.fact.value if s.when else "",
                when_op=s.when.op.value if s.when else "",
                when_value=_value_text(s.when.value) if s.when else "",
                when_slot=(s.when.slot or "") if s.when else "",
            )
        )
    return PolicyForm(
        name=name,
        description=description,
        distinct_deciders=spec.distinct_deciders,
        on_resubmit=spec.on_resubmit.value,
        stages=stages,
    )


def blank_form() -> PolicyForm:
    return PolicyForm(
        stages=[StageForm(name="gm", roles=[ApproverRole.partner_gm.value])],
    )


# From the posted form -------------------------------------------------------------------------


class Posted:
    """A read-only view of the posted fields (Starlette's FormData or a plain dict)."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def one(self, key: str, limit: int = 500) -> str:
        value = self.data.get(key, "")
        return value[:limit] if isinstance(value, str) else ""

    def many(self, key: str) -> list[str]:
        getter = getattr(self.data, "getlist", None)
        raw = getter(key) if getter else self.data.get(key, [])
        if isinstance(raw, str):
            raw = [raw]
        return [v[:100] for v in raw if isinstance(v, str) and v][:60]

    def count(self, key: str, limit: int) -> int:
        text = self.one(key, 4)
        return min(int(text), limit) if text.isdigit() else 0


def read_form(data: Mapping[str, Any] | Any) -> PolicyForm:
    posted = Posted(data)
    stages = []
    for i in range(posted.count("stage_count", MAX_FORM_STAGES)):
        at = f"stages-{i}-"
        timeouts = [
            TimeoutForm(
                after=posted.one(f"{at}timeouts-{j}-after", 12).strip(),
                unit=posted.one(f"{at}timeouts-{j}-unit", 10),
                action=posted.one(f"{at}timeouts-{j}-action", 10),
                to_roles=posted.many(f"{at}timeouts-{j}-to_roles"),
                to_users=posted.many(f"{at}timeouts-{j}-to_users"),
            )
            for j in range(posted.count(f"{at}timeout_count", MAX_TIMEOUT_ROWS))
        ]
        stages.append(
            StageForm(
                name=posted.one(f"{at}name", 60).strip(),
                label=posted.one(f"{at}label", 120).strip(),
                roles=posted.many(f"{at}roles"),
                users=posted.many(f"{at}users"),
                rule=posted.one(f"{at}rule", 10) or Rule.any.value,
                quorum=posted.one(f"{at}quorum", 6).strip(),
                timeouts=[t for t in timeouts if not t.blank],
                when_fact=posted.one(f"{at}when_fact", 20),
                when_op=posted.one(f"{at}when_op", 10),
                when_value=posted.one(f"{at}when_value", 500).strip(),
                when_slot=posted.one(f"{at}when_slot", 100).strip(),
            )
        )
    return PolicyForm(
        name=posted.one("name", 120).strip(),
        description=posted.one("description", 2000).strip(),
        distinct_deciders=posted.one("distinct_deciders") in ("on", "true", "1"),
        on_resubmit=posted.one("on_resubmit", 20) or Resubmit.first_stage.value,
        stages=stages,
    )


def apply_op(form: PolicyForm, op: str) -> bool:
    """Add, remove or move a stage (`remove:2`); True when the op was one of these."""
    found = _OP.fullmatch(op or "")
    if found is None:
        return False
    verb, index = found.group(1), int(found.group(2) or 0)
    stages = form.stages
    if verb == "add":
        if len(stages) < MAX_FORM_STAGES:
            stages.append(StageForm(name=f"stage_{len(stages) + 1}"))
        return True
    if not 0 <= index < len(stages):
        return True
    if verb == "remove":
        del stages[index]
    elif verb == "up" and index > 0:
        stages[index - 1], stages[index] = stages[index], stages[index - 1]
    elif verb == "down" and index < len(stages) - 1:
        stages[index + 1], stages[index] = stages[index], stages[index + 1]
    return True


# Into a spec ----------------------------------------------------------------------------------


def _number(text: str) -> int | str:
    return int(text) if _INT.fullmatch(text) else text


def _approvers(roles: list[str], users: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": r} for r in roles]
    out += [{"user_id": int(u) if u.isdigit() else u} for u in users]
    return out


def to_spec(form: PolicyForm) -> tuple[PolicySpec | None, dict[str, list[str]]]:
    """The spec, or the messages by field key (nothing is checked against the database)."""
    errors: dict[str, list[str]] = {}

    def refuse(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    stages: list[dict[str, Any]] = []
    for i, s in enumerate(form.stages):
        at = f"stages.{i}"
        raw: dict[str, Any] = {
            "name": s.name,
            "label": s.label,
            "approvers": _approvers(s.roles, s.users),
            "rule": s.rule,
        }
        if s.quorum and s.rule == Rule.quorum.value:
            if s.quorum.isdigit():
                raw["quorum"] = int(s.quorum)
            else:
                refuse(f"{at}.quorum", gettext("a whole number of approvals"))
        timeouts = []
        for j, t in enumerate(s.timeouts):
            where = f"{at}.timeouts.{j}"
            if not t.after.isdigit() or int(t.after) < 1:
                refuse(f"{where}.after", gettext("how long: a whole number above 0"))
                continue
            if t.unit not in UNITS:
                refuse(f"{where}.after", gettext("minutes, hours or days"))
                continue
            if not t.action:
                refuse(f"{where}.action", gettext("say what happens then"))
                continue
            timeouts.append(
                {
                    "after": int(t.after) * UNITS[t.unit],
                    "action": t.action,
                    "to": _approvers(t.to_roles, t.to_users),
                }
            )
        raw["timeouts"] = timeouts
        if s.when_fact:
            op = s.when_op
            value: Any
            if op in {o.value for o in LISTED}:
                value = [_number(v.strip()) for v in s.when_value.split(",") if v.strip()]
            elif op in {o.value for o in NUMERIC}:
                value = _number(s.when_value)
            else:
                value = s.when_value
            if op and not s.when_value:
                refuse(f"{at}.when.value", gettext("give the value to compare with"))
            raw["when"] = {
                "fact": s.when_fact,
                "op": op,
                "value": value,
                "slot": (s.when_slot or None) if s.when_fact == Fact.slot.value else None,
            }
            if s.when_fact != Fact.slot.value and s.when_slot:
                refuse(f"{at}.when.slot", gettext("only a condition on a slot names one"))
            if s.when_fact == Fact.slot.value and not s.when_slot:
                refuse(f"{at}.when.slot", gettext("name the slot"))
        stages.append(raw)
    if errors:
        return None, errors
    try:
        spec = PolicySpec.model_validate(
            {
                "stages": stages,
                "distinct_deciders": form.distinct_deciders,
                "on_resubmit": form.on_resubmit,
            }
        )
    except ValidationError as err:
        for e in err.errors():
            loc = ".".join(str(p) for p in e.get("loc", ()))
            refuse(field_key(loc) or "form", _plain(str(e.get("msg", ""))))
        return None, errors
    return spec, {}


def _plain(message: str) -> str:
    return message.removeprefix("Value error, ")


# Field paths to the inputs they are about ------------------------------------------------------

_BRACKETS = re.compile(r"\[(\d+)\]")
_KEEP = (
    re.compile(r"^stages\.\d+\.timeouts\.\d+\.(after|action|to)"),
    re.compile(r"^stages\.\d+\.when\.(fact|op|value|slot)"),
    re.compile(r"^stages\.\d+\.(name|label|approvers|rule|quorum|timeouts|when)"),
    re.compile(r"^(name|description|distinct_deciders|on_resubmit|stages)"),
)
# pydantic's unions name the branch ("when.value.int"): the input is the part before it.
_TAGS = re.compile(r"\.(int|str|list\[.*|function-after\[.*|tagged-union\[.*)$")


def field_key(path: str) -> str:
    """`spec.stages[1].quorum` or `stages.1.approvers.0.user_id` -> the key the form marks
    (`stages.1.quorum`, `stages.1.approvers`); '' when it names no input."""
    path = _BRACKETS.sub(r".\1", path).removeprefix("spec.").removeprefix("body.")
    path = _TAGS.sub("", path)
    for pattern in _KEEP:
        found = pattern.match(path)
        if found:
            return found.group(0)
    return ""


def errors_by_field(problems: list[dict[str, Any]] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in problems or []:
        key = field_key(str(e.get("field", ""))) or "form"
        out.setdefault(key, []).append(str(e.get("message", "")))
    return out


def summary(errors: Mapping[str, list[str]], form: PolicyForm) -> list[tuple[str, str, str]]:
    """(anchor, where in words, message) for the list at the top of the page."""
    out: list[tuple[str, str, str]] = []
    for key, messages in errors.items():
        where = key
        parts = key.split(".")
        if parts[0] == "stages" and len(parts) > 1 and parts[1].isdigit():
            i = int(parts[1])
            name = form.stages[i].name if i < len(form.stages) else ""
            rest = " ".join(p.replace("_", " ") for p in parts[2:] if not p.isdigit())
            where = (
                gettext("Stage %(number)s (%(name)s)", number=i + 1, name=name)
                if name
                else gettext("Stage %(number)s", number=i + 1)
            )
            where += f": {rest}" if rest else ""
        elif key == "form":
            where = gettext("The policy")
        out.extend((anchor(key), where, m) for m in messages)
    return out


def anchor(key: str) -> str:
    return "f-" + key.replace(".", "-")


ACTION_LABELS = {
    "remind": N_("Remind"),
    "escalate": N_("Escalate"),
    "approve": N_("Approve"),
    "reject": N_("Reject"),
    "expire": N_("Expire"),
}
FACT_LABELS = {
    "audience_size": N_("audience size"),
    "template_tags": N_("template tags"),
    "region_id": N_("region"),
    "channel": N_("channel"),
    "budget": N_("budget"),
    "expected_cost": N_("expected cost"),
    "fund_shortfall": N_("fund shortfall"),
    "slot": N_("slot"),
}
UNIT_LABELS = {"minutes": N_("minutes"), "hours": N_("hours"), "days": N_("days")}
CHOICES = {
    "rules": [
        ("any", N_("Any one of them")),
        ("all", N_("All of them")),
        ("quorum", N_("A quorum of them")),
    ],
    "actions": [(a.value, ACTION_LABELS.get(a.value, a.value.capitalize())) for a in TimeoutAction],
    "facts": [(f.value, FACT_LABELS.get(f.value, f.value.replace("_", " "))) for f in Fact],
    "operators": [
        (o.value, label)
        for o, label in (
            (Operator.gt, N_("above")),
            (Operator.gte, N_("at least")),
            (Operator.lt, N_("below")),
            (Operator.lte, N_("at most")),
            (Operator.eq, N_("is")),
            (Operator.ne, N_("is not")),
            (Operator.in_, N_("is one of (comma-separated)")),
            (Operator.not_in, N_("is none of (comma-separated)")),
            (Operator.contains, N_("contains")),
        )
    ],
    "units": [(u, UNIT_LABELS[u]) for u in UNITS],
    "resubmit": [
        (Resubmit.first_stage.value, N_("The whole chain again, from the first stage")),
        (Resubmit.asking_stage.value, N_("Straight back to the stage that asked for changes")),
    ],
}


def choices() -> dict[str, list[tuple[str, str]]]:
    """The form's choices with their labels in the reader's language."""
    return {k: [(value, gettext(label)) for value, label in v] for k, v in CHOICES.items()}
