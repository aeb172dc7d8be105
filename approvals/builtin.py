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


class BuiltinPolicy(StrEnum):
    gm = "gm"
    gm_then_hq = "gm_then_hq"
    none = "none"


LABELS = {
    BuiltinPolicy.gm: "The partner's GM",
    BuiltinPolicy.gm_then_hq: "The GM, then HQ",
    BuiltinPolicy.none: "None (opt-out only)",
}
# Campaign defaults, used for the built-ins' diagrams and explanations outside a campaign.
DEFAULT_REMIND = 2 * 86400
DEFAULT_ESCALATE = 4 * 86400


def gm_stage(remind_after: int, escalate_after: int) -> Stage:
    return Stage(
        name="gm",
        label="The partner's GM",
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
        label="Brand review",
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
