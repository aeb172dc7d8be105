"""Every lifecycle's states, spelled once, and the groups of them the code asks about.

Code compares states with these members and sets, never with string literals: a renamed state
then fails at import, not in production.
"""

from __future__ import annotations

from enum import StrEnum


class PartnerCampaignState(StrEnum):
    invited = "invited"
    drafting = "drafting"
    changes_requested = "changes_requested"
    # Waiting for the approval chain; which stage, and who decides, is data of the approval
    # (approvals.engine), not a state of its own.
    pending_approval = "pending_approval"
    approved = "approved"
    scheduled = "scheduled"
    sending = "sending"
    sent = "sent"
    partially_sent = "partially_sent"
    rejected = "rejected"
    declined = "declined"
    expired = "expired"
    cancelled = "cancelled"


PC = PartnerCampaignState
PARTNER_CAMPAIGN_FINAL = frozenset(
    {PC.sent, PC.partially_sent, PC.rejected, PC.declined, PC.expired, PC.cancelled}
)
PERSONALISING = frozenset({PC.invited, PC.drafting, PC.changes_requested})
# Once sending has started the ledger tells the progress.
SEND_STARTED = frozenset({PC.sending, PC.sent, PC.partially_sent})
# The partner may still decline (before anything went out).
DECLINABLE = frozenset({*PERSONALISING, PC.approved})
SCHEDULABLE = frozenset({PC.approved, PC.scheduled})


class CampaignState(StrEnum):
    draft = "draft"
    running = "running"
    completed = "completed"
    cancelled = "cancelled"


class CampaignMode(StrEnum):
    opt_in = "opt_in"
    opt_out = "opt_out"


class TemplateState(StrEnum):
    draft = "draft"
    in_review = "in_review"
    changes_requested = "changes_requested"
    published = "published"
    rejected = "rejected"
    retired = "retired"


TEMPLATE_FINAL = frozenset({TemplateState.rejected, TemplateState.retired})
TEMPLATE_EDITABLE = frozenset({TemplateState.draft, TemplateState.changes_requested})


class DeliveryStatus(StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    suppressed = "suppressed"


DELIVERY_FINAL = frozenset({DeliveryStatus.sent, DeliveryStatus.failed, DeliveryStatus.suppressed})


class TaskKind(StrEnum):
    """An inbox task: personalising (the partner's editors), deciding a stage of an
    approval chain (whoever the stage names), or picking the send time of an approved
    partner campaign (the partner's editors; derived from the state by the projection)."""

    personalise = "personalise"
    approve = "approve"
    schedule = "schedule"


# The tasks of the partner's editors (permission partner_campaign_edit, never by delegation).
EDITOR_TASKS = frozenset({TaskKind.personalise, TaskKind.schedule})


class PauseKind(StrEnum):
    """Why a send waits: people must act (the account was refused), or a fault of the platform
    underneath (storage, database, provider down) that clears on its own."""

    transport = "transport"
    fault = "fault"
    quiet = "quiet"  # SMS quiet hours at the partner: the send goes on by itself at their end


class CampaignSheetState(StrEnum):
    """A campaign sheet import (services/campaign_sheets): validating -> invalid | ready;
    ready -> creating (HQ confirmed) | failed (nobody confirmed in time); creating ->
    completed | failed (a row refused during creation)."""

    validating = "validating"
    invalid = "invalid"
    ready = "ready"
    creating = "creating"
    completed = "completed"
    failed = "failed"
