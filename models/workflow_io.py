"""Pydantic shapes workflows and activities exchange (never SQLModel tables)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from approvals.facts import ApprovalFacts
from approvals.policy import PinnedPolicy
from approvals.views import StageView
from domain.states import PartnerCampaignState, PauseKind


class AuditRecord(BaseModel):
    """An audit event as a workflow reports it; event_key makes retries no-ops."""

    brand_id: int
    actor: str
    action: str
    entity_type: str
    entity_id: str
    event_key: str = Field(max_length=200)
    region_id: int | None = None
    partner_id: int | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    comment: str | None = None
    workflow_id: str | None = None
    run_id: str | None = None
    at: datetime | None = None


class AuditReceipt(BaseModel):
    seq: int
    hash: str


class GrantRef(BaseModel):
    role: str
    scope: str
    brand_id: int
    region_id: int | None = None
    partner_id: int | None = None


class ActorRef(BaseModel):
    """Who asks a workflow to act: identity and roles travel with the request, so the
    workflow's validators can apply the policy without a database."""

    user_id: int
    brand_id: int
    email: str = ""
    grants: list[GrantRef] = Field(default_factory=list)


class TemplateWorkflowInput(BaseModel):
    template_id: int
    version_id: int
    number: int
    brand_id: int
    author_id: int
    name: str = ""
    initial_state: str = Field(
        "draft",
        description="Where the lifecycle starts: draft for new versions; the projected state "
        "when a workflow adopts a version that has none (seeded demo data, a failed start)",
    )
    submitted_by: int | None = None


class TemplateDecision(BaseModel):
    actor: ActorRef
    decision: str  # approve | request_changes | reject
    comment: str | None = Field(None, max_length=2000)


class TimelineEntry(BaseModel):
    seq: int
    at: datetime
    event: str
    from_state: str
    to_state: str
    actor_id: int | None
    comment: str | None = None
    stage: str | None = Field(None, description="the approval stage the entry concerns")
    on_behalf_of: int | None = Field(None, description="a delegate decided for this approver")


class TemplateTransition(BaseModel):
    """What the projection activity writes: the version row and one audit event."""

    version_id: int
    brand_id: int
    entry: TimelineEntry
    workflow_id: str
    run_id: str


class TemplateStatus(BaseModel):
    version_id: int
    state: str
    timeline: list[TimelineEntry]


class AssetCheck(BaseModel):
    """The send-time asset re-check: the partner's content as approved, on the day of sending."""

    version_id: int
    partner_id: int
    values: dict[str, Any] = Field(default_factory=dict)
    locale: str = "en"
    on: date


# Campaigns --------------------------------------------------------------------------------------


class PartnerRef(BaseModel):
    """One target partner as the campaign workflow hands it to its partner workflow."""

    partner_campaign_id: int
    partner_id: int
    region_id: int
    locale: str = "en"
    profile: dict[str, Any] = Field(default_factory=dict)
    values: dict[str, Any] | None = Field(
        None,
        description="the values the partner starts from (a series occurrence carries the "
        "previous occurrence's); None: HQ's defaults",
    )


class CampaignShared(BaseModel):
    """What every partner workflow of one campaign shares (sent once per child, not per event)."""

    campaign_id: int
    brand_id: int
    name: str
    mode: str
    approval_policy: str
    personalise_until: datetime
    send_by: datetime
    remind_after: int  # seconds
    escalate_after: int  # seconds
    defaults: dict[str, Any] = Field(default_factory=dict)
    content: dict[str, Any] = Field(description="the published TemplateContent, as JSON")
    brand_rules: dict[str, Any] = Field(default_factory=dict)
    # None in workflows started before delivery existed (they end at the hand-over).
    template_version_id: int | None = None
    delivery_task_queue: str | None = None
    approval: PinnedPolicy | None = Field(
        None,
        description="the policy version pinned at launch; None in executions started before "
        "policies were data: the built-in `approval_policy` with the campaign's timeouts",
    )
    series_id: int | None = Field(
        None, description="the campaign series this campaign is an occurrence of"
    )


class CampaignWorkflowInput(BaseModel):
    shared: CampaignShared
    partner_campaign_ids: list[int] | None = Field(
        None, description="a shard's own slice; None: the whole campaign, read in pages"
    )
    max_children: int = Field(
        1000, ge=1, le=1000, description="partner workflows per campaign workflow (shard) at most"
    )
    page_size: int = Field(
        250, ge=1, le=1000, description="partner workflows started per start activity"
    )


class PartnerCampaignInput(BaseModel):
    shared: CampaignShared
    partner: PartnerRef
    report_to: str | None = Field(
        None, description="campaign (shard) workflow id told the outcome; None: nobody"
    )
    opened: TimelineEntry | None = Field(
        None,
        description="the fan-out projected the open transition (row, task, audit event) before "
        "it started the workflow: this is its entry; None: the workflow projects it",
    )
    invited_by_campaign: bool = Field(
        False, description="the campaign sends the invitation notice (batched per page)"
    )


class StartPartners(BaseModel):
    """One page of partner workflows for the start activity to start (never twice)."""

    shared: CampaignShared
    partner_campaign_ids: list[int]
    report_to: str
    task_queue: str
    project_open: bool = Field(
        False,
        description="project every partner's open transition for the page in one transaction "
        "and start the workflows with it (the campaign then sends the invitations)",
    )


class StartedPartners(BaseModel):
    """Which partner campaigns got a new workflow and which already had one (by id)."""

    started: dict[int, str] = Field(default_factory=dict, description="pc id -> workflow id")
    existing: dict[int, str] = Field(default_factory=dict, description="pc id -> workflow id")


class InvitePartners(BaseModel):
    """The invitation notices of one page of partner workflows, sent by one activity."""

    campaign_id: int
    campaign_name: str
    brand_id: int
    personalise_until: datetime
    partner_campaign_ids: list[int]


class SignalPartners(BaseModel):
    """A signal for many partner workflows at once (cancel, extend)."""

    workflow_ids: list[str]
    signal: str
    personalise_until: datetime | None = None


class PartnerOutcome(BaseModel):
    """What a partner workflow tells its campaign when it ends."""

    partner_campaign_id: int
    result: str


class PartnerAction(BaseModel):
    """A human action on a partner campaign (Update argument)."""

    actor: ActorRef
    values: dict[str, Any] | None = None
    decision: str | None = None  # approve | request_changes | reject
    comment: str | None = Field(None, max_length=2000)
    send_at: datetime | None = None
    segment_id: int | None = None  # submit: who the send goes to (None: every contact)
    facts: ApprovalFacts | None = Field(
        None, description="submit: what the approval chain's conditions read (the API gathers)"
    )
    on_behalf_of: ActorRef | None = Field(
        None, description="decide: the approver a delegate acts for (the API checked it)"
    )
    revision: int | None = Field(
        None,
        description="decide: the submission the decider saw (one-click links, the portal); "
        "a decision about an older one is refused, the content changed since",
    )


class PartnerTransition(BaseModel):
    """What the projection activity writes: the row, the inbox tasks and one audit event."""

    shared_campaign_id: int
    brand_id: int
    partner: PartnerRef
    entry: TimelineEntry
    values: dict[str, Any] | None = None
    send_at: datetime | None = None
    submitted_by: int | None = None
    segment_id: int | None = None
    escalation_level: int = 0
    revision: int = Field(0, description="submissions so far: 1 after the first submit")
    stage: StageView | None = Field(None, description="the approval stage waiting now")
    policy_version_id: int | None = None
    open_tasks: dict[str, datetime | None] = Field(
        default_factory=dict, description="task kind -> due time; kinds not listed are closed"
    )
    workflow_id: str
    run_id: str | None = Field(None, description="None: projected by the fan-out before the run")


class PartnerCampaignStatus(BaseModel):
    partner_campaign_id: int
    state: PartnerCampaignState
    values: dict[str, Any] = Field(default_factory=dict)
    send_at: datetime | None = None
    escalation_level: int = 0
    personalise_until: datetime
    timeline: list[TimelineEntry] = Field(default_factory=list)
    revision: int = 0
    stage: StageView | None = None


class CampaignSummary(BaseModel):
    campaign_id: int
    counts: dict[str, int] = Field(default_factory=dict)
    cancelled: bool = False


class PartnerNotice(BaseModel):
    """A notification the partner workflow asks for; the activity finds the recipients.

    kinds: invited, changes_requested (editors); approval_pending (GM, or brand reviewers at
    pending_hq); reminder (whoever may decide now); escalated (the region manager)."""

    kind: str
    key: str = Field(description="idempotency key: workflow id, timeline seq and kind")
    campaign_id: int
    campaign_name: str
    brand_id: int
    partner: PartnerRef
    stage: str = Field(description="the partner campaign's state when the notice was asked for")
    escalation_level: int = 0
    comment: str | None = None
    due_at: datetime | None = None
    revision: int = Field(0, description="the submission a decision notice is about")
    approval: StageView | None = Field(None, description="decision notices: the stage")


# Delivery ---------------------------------------------------------------------------------------


class SendInput(BaseModel):
    """A partner campaign's send; `cursor_*` carry progress across continue-as-new."""

    partner_campaign_id: int
    campaign_id: int
    brand_id: int
    partner_id: int
    delivery_task_queue: str
    batch_size: int = Field(200, ge=1, le=2000, description="recipients per activity call")
    batches_per_run: int = Field(100, ge=1, description="batches before continue-as-new")
    resume_after: int = Field(1800, ge=1, description="seconds a paused send waits to retry")
    snapshotted: bool = False
    paused_notices: int = 0
    after_id: int = 0  # the cursor, carried across continue-as-new
    counts: dict[str, int] = Field(default_factory=dict, description="sent, failed, suppressed")
    retry_passes: int = Field(0, description="passes made again for rows that failed for now")
    sms_rows: int = Field(0, description="SMS rows at the snapshot: the send has an SMS phase")
    sms_phase: bool = Field(False, description="the email passes are done; SMS batches go on")


class AudienceSnapshot(BaseModel):
    """The audience at snapshot time: rows written to the ledger and who was left out."""

    matching: int = 0
    eligible: int = 0
    suppressed: int = 0
    no_consent: int = 0
    eligible_email: int = 0
    eligible_sms: int = 0
    inserted: int = 0


class SendBatchInput(BaseModel):
    partner_campaign_id: int
    limit: int
    after_id: int = 0  # keyset cursor: the batch takes rows after this one
    now: datetime | None = None  # SMS: the workflow's time, which quiet hours are judged by


class BatchOutcome(BaseModel):
    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    paused: str | None = None
    fault: str | None = Field(
        None, description="storage, database or provider down: pause and probe until it clears"
    )
    retry_later: int = Field(0, description="rows left pending by their own failure")
    last_id: int = 0
    seen: int = 0
    throttled: int = Field(0, description="hand-overs refused as too fast (retried in the batch)")
    cut_short: bool = Field(
        False, description="ended early by a long run of throttles: go on from last_id at once"
    )
    late: str | None = Field(
        None, description="past the campaign's send_by and its grace: the send stops (why)"
    )
    quiet_until: datetime | None = Field(
        None, description="SMS: quiet hours at the partner; wait until then (UTC), then go on"
    )
    quiet: str | None = Field(None, description='SMS: e.g. "quiet hours until 09:00 Europe/..."')


class SendPaused(BaseModel):
    """A send stopped: the audit trail records it; for a refused account approvers and HQ are
    also told by email."""

    partner_campaign_id: int
    reason: str
    key: str
    kind: PauseKind = PauseKind.transport


class SendPause(BaseModel):
    """What a paused send says about itself (query), for the API and the portal."""

    reason: str
    kind: PauseKind
    since: datetime


class SendResult(BaseModel):
    partner_campaign_id: int
    counts: dict[str, int] = Field(default_factory=dict)
    outcome: str  # sent | partially_sent | late
    reason: str | None = None  # why a late send stopped


class CheckpointSweepResult(BaseModel):
    """One run of the audit checkpoint schedule: what was anchored, what was refused."""

    written: list[str] = Field(default_factory=list, description="Where each checkpoint went")
    unchanged: int = 0
    refused: list[str] = Field(default_factory=list, description="Brand and reason, each")
