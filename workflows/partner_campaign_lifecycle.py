"""The partner campaign's approval lifecycle: one python-statemachine class is the single
definition used by the workflow, the database's state column, the API's refusals and the diagram.

Pure: no I/O in callbacks, no delayed events (it runs inside the workflow sandbox).
"""

from __future__ import annotations

from enum import StrEnum

from statemachine import State, StateMachine


class PartnerCampaignState(StrEnum):
    invited = "invited"
    drafting = "drafting"
    changes_requested = "changes_requested"
    pending_gm = "pending_gm"
    pending_hq = "pending_hq"
    approved = "approved"
    scheduled = "scheduled"
    sending = "sending"
    sent = "sent"
    partially_sent = "partially_sent"
    rejected = "rejected"
    declined = "declined"
    expired = "expired"
    cancelled = "cancelled"


class PartnerCampaignEvent(StrEnum):
    open = "open"  # the invitation went out: the partner may personalise
    save = "save"
    submit = "submit"
    approve = "approve"
    forward_to_hq = "forward_to_hq"  # the GM approved under gm_then_hq
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
    """invited -> drafting -> pending_gm (-> pending_hq) -> approved -> scheduled -> sending ->
    sent; side exits for changes requested, rejection, decline, expiry and cancellation."""

    invited = State("Invited", initial=True, value=PartnerCampaignState.invited.value)
    drafting = State("Drafting", value=PartnerCampaignState.drafting.value)
    changes_requested = State(
        "Changes requested", value=PartnerCampaignState.changes_requested.value
    )
    pending_gm = State("Waiting for the GM", value=PartnerCampaignState.pending_gm.value)
    pending_hq = State("Waiting for HQ", value=PartnerCampaignState.pending_hq.value)
    approved = State("Approved", value=PartnerCampaignState.approved.value)
    scheduled = State("Scheduled", value=PartnerCampaignState.scheduled.value)
    sending = State("Sending", value=PartnerCampaignState.sending.value)
    sent = State("Sent", final=True, value=PartnerCampaignState.sent.value)
    partially_sent = State(
        "Partially sent", final=True, value=PartnerCampaignState.partially_sent.value
    )
    rejected = State("Rejected", final=True, value=PartnerCampaignState.rejected.value)
    declined = State("Declined", final=True, value=PartnerCampaignState.declined.value)
    expired = State("Expired", final=True, value=PartnerCampaignState.expired.value)
    cancelled = State("Cancelled", final=True, value=PartnerCampaignState.cancelled.value)

    open = invited.to(drafting)
    save = invited.to(drafting) | drafting.to(drafting) | changes_requested.to(drafting)
    submit = drafting.to(pending_gm) | changes_requested.to(pending_gm)
    approve = pending_gm.to(approved) | pending_hq.to(approved)
    forward_to_hq = pending_gm.to(pending_hq)
    request_changes = pending_gm.to(changes_requested) | pending_hq.to(changes_requested)
    reject = pending_gm.to(rejected) | pending_hq.to(rejected)
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
        | pending_gm.to(expired)
        | pending_hq.to(expired)
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
        | pending_gm.to(cancelled)
        | pending_hq.to(cancelled)
        | approved.to(cancelled)
        | scheduled.to(cancelled)
    )


FINAL = frozenset(
    {
        PartnerCampaignState.sent,
        PartnerCampaignState.partially_sent,
        PartnerCampaignState.rejected,
        PartnerCampaignState.declined,
        PartnerCampaignState.expired,
        PartnerCampaignState.cancelled,
    }
)
PERSONALISING = frozenset(
    {
        PartnerCampaignState.invited,
        PartnerCampaignState.drafting,
        PartnerCampaignState.changes_requested,
    }
)
PENDING_APPROVAL = frozenset({PartnerCampaignState.pending_gm, PartnerCampaignState.pending_hq})


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
