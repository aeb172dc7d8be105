"""The built-in policies, as every brand has them: the rules campaigns ran before policies were
data, so campaigns that name them (and executions started before policies existed) keep them.

- `gm`: the partner's GM; reminded after the campaign's `remind_after`, escalated to the region
  manager (who may then decide) after `escalate_after`.
- `gm_then_hq`: the GM as above, then any brand reviewer (reminded, never escalated).
- `none`: no approval (opt-out campaigns only: HQ's defaults go out unless declined).

Their timeouts come from the campaign, so they are built per campaign, not stored.
"""

from __future__ import annotations

from enum import StrEnum

from approvals.policy import (
    Approver,
    ApproverRole,
    PinnedPolicy,
    PolicySpec,
    Stage,
    Timeout,
    TimeoutAction,
)
from core.said import Said, said


class BuiltinPolicy(StrEnum):
    gm = "gm"
    gm_then_hq = "gm_then_hq"
    none = "none"


# English for the API; the portal shows them translated (core.said).
LABELS: dict[BuiltinPolicy, str] = {
    BuiltinPolicy.gm: said("The partner's GM"),
    BuiltinPolicy.gm_then_hq: said("The GM, then HQ"),
    BuiltinPolicy.none: said("None (opt-out only)"),
}
# The built-in stages' labels by stage name. A pinned spec stores them as plain text, so the
# portal translates a stage's title only when its name and label are exactly these.
STAGE_LABELS: dict[str, Said] = {"gm": said("The partner's GM"), "hq": said("Brand review")}
# Campaign defaults, used for the built-ins' diagrams and explanations outside a campaign.
DEFAULT_REMIND = 2 * 86400
DEFAULT_ESCALATE = 4 * 86400


def gm_stage(remind_after: int, escalate_after: int) -> Stage:
    return Stage(
        name="gm",
        label=STAGE_LABELS["gm"],
        approvers=[Approver(role=ApproverRole.partner_gm)],
        timeouts=[
            Timeout(after=remind_after, action=TimeoutAction.remind),
            Timeout(
                after=escalate_after,
                action=TimeoutAction.escalate,
                to=[Approver(role=ApproverRole.region_manager)],
            ),
        ],
    )


def hq_stage(remind_after: int) -> Stage:
    return Stage(
        name="hq",
        label=STAGE_LABELS["hq"],
        approvers=[Approver(role=ApproverRole.brand_reviewer)],
        timeouts=[Timeout(after=remind_after, action=TimeoutAction.remind)],
    )


def builtin_spec(
    name: BuiltinPolicy,
    remind_after: int = DEFAULT_REMIND,
    escalate_after: int = DEFAULT_ESCALATE,
) -> PolicySpec:
    if name == BuiltinPolicy.none:
        return PolicySpec()
    stages = [gm_stage(remind_after, escalate_after)]
    if name == BuiltinPolicy.gm_then_hq:
        stages.append(hq_stage(remind_after))
    return PolicySpec(stages=stages)


def pinned_builtin(
    name: BuiltinPolicy | str,
    remind_after: int = DEFAULT_REMIND,
    escalate_after: int = DEFAULT_ESCALATE,
) -> PinnedPolicy:
    builtin = BuiltinPolicy(name)
    return PinnedPolicy(
        name=builtin.value, spec=builtin_spec(builtin, remind_after, escalate_after)
    )


def stage_title(stage: Stage) -> str:
    """A stage's title, a `Said` for a built-in stage (so the portal can translate it)."""
    builtin = STAGE_LABELS.get(stage.name)
    return builtin if builtin is not None and builtin == stage.label else stage.title
