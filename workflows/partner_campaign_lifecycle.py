"""The partner campaign's lifecycle: one python-statemachine class is the single definition used
by the workflow, the database's state column, the API's refusals and the diagram.

Approval is one state, `pending_approval`: which stage of the pinned approval policy waits and
who decides is data of the approval chain (approvals.engine), so any chain HQ designs fits the
same lifecycle. `advance` moves from one stage to the next without leaving the state.

Pure: no I/O in callbacks, no delayed events (it runs inside the workflow sandbox).
"""

from __future__ import annotations

from enum import StrEnum

from statemachine import State, StateMachine

from domain.states import PartnerCampaignState as S


class PartnerCampaignEvent(StrEnum):
    open = "open"  # the invitation went out: the partner may personalise
    save = "save"
    submit = "submit"
    advance = "advance"  # a stage of the approval chain is passed; the next one waits
    approve = "approve"  # the last stage is passed (or no stage applies)
    request_changes = "request_changes"
    reject = "reject"
    decline = "decline"
    expire = "expire"
    go_ahead = "go_ahead"  # opt_out: the window closed, HQ's defaults go out
    schedule = "schedule"
    start_sending = "start_sending"
    asset_blocked = "asset_blocked"  # the send-time asset check failed: back to the partner
    finish = "finish"
    finish_partially = "finish_partially"
    cancel = "cancel"


class PartnerCampaignLifecycle(StateMachine):
    """invited -> drafting -> pending_approval (stage by stage) -> approved -> scheduled ->
    sending -> sent; side exits for changes requested, rejection, decline, expiry and
    cancellation."""

    invited = State("Invited", initial=True, value=S.invited.value)
    drafting = State("Drafting", value=S.drafting.value)
    changes_requested = State("Changes requested", value=S.changes_requested.value)
    pending_approval = State("Waiting for approval", value=S.pending_approval.value)
    approved = State("Approved", value=S.approved.value)
    scheduled = State("Scheduled", value=S.scheduled.value)
    sending = State("Sending", value=S.sending.value)
    sent = State("Sent", final=True, value=S.sent.value)
    partially_sent = State("Partially sent", final=True, value=S.partially_sent.value)
    rejected = State("Rejected", final=True, value=S.rejected.value)
    declined = State("Declined", final=True, value=S.declined.value)
    expired = State("Expired", final=True, value=S.expired.value)
    cancelled = State("Cancelled", final=True, value=S.cancelled.value)

    open = invited.to(drafting)
    save = invited.to(drafting) | drafting.to(drafting) | changes_requested.to(drafting)
    submit = drafting.to(pending_approval) | changes_requested.to(pending_approval)
    advance = pending_approval.to(pending_approval)
    approve = pending_approval.to(approved)
    request_changes = pending_approval.to(changes_requested)
    reject = pending_approval.to(rejected)
    decline = (
        invited.to(declined)
        | drafting.to(declined)
        | changes_requested.to(declined)
        | approved.to(declined)
    )
    expire = (
        invited.to(expired)
        | drafting.to(expired)
        | changes_requested.to(expired)
        | pending_approval.to(expired)
        | sending.to(expired)  # the send deadline passed before anything went out
    )
    go_ahead = invited.to(approved) | drafting.to(approved) | changes_requested.to(approved)
    schedule = approved.to(scheduled) | scheduled.to(scheduled)
    start_sending = scheduled.to(sending)
    asset_blocked = scheduled.to(changes_requested)
    finish = sending.to(sent)
    finish_partially = sending.to(partially_sent)
    cancel = (
        invited.to(cancelled)
        | drafting.to(cancelled)
        | changes_requested.to(cancelled)
        | pending_approval.to(cancelled)
        | approved.to(cancelled)
        | scheduled.to(cancelled)
    )


def allowed_events(state: str) -> list[str]:
    machine = PartnerCampaignLifecycle(start_value=state)
    return [e.id for e in machine.allowed_events]


def next_state(state: str, event: str) -> str:
    """The state after `event`; TransitionNotAllowed when the lifecycle forbids it."""
    machine = PartnerCampaignLifecycle(start_value=state)
    machine.send(event)
    return str(machine.current_state_value)


def mermaid() -> str:
    return f"{PartnerCampaignLifecycle:mermaid}"
