"""What each task queue's workers run: the one place workflows and activities are registered."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from activities.assets import AssetActivities
from activities.audit import AuditActivities, CheckpointActivities
from activities.campaign_sheets import CampaignSheetActivities
from activities.campaigns import CampaignActivities
from activities.chain_tasks import ChainNoticeActivities, ChainTaskActivities
from activities.claims import ClaimActivities
from activities.delivery import DeliveryActivities
from activities.fanout import FanoutActivities
from activities.journey_activation import JourneyActivationActivities
from activities.journeys import JourneyActivities
from activities.notifications import NotificationActivities
from activities.print_orders import PrintOrderActivities
from activities.reporting import ReportActivities
from activities.series import SeriesActivities
from activities.templates import TemplateActivities
from activities.webhooks import WebhookActivities
from core.bytecode import ensure_bytecode
from core.settings import Settings
from mail.sms_transport import make_sms_transport
from mail.transport import make_transport
from services.asset_publication import store_for
from services.audit_checkpoints import CheckpointPolicy
from storage.base import WriteOnceStore
from storage.factory import make_checkpoint_store
from workflows.audit_checkpoint import AuditCheckpointWorkflow
from workflows.campaign import CampaignWorkflow
from workflows.campaign_sheet import CampaignSheetWorkflow
from workflows.claim import ClaimWorkflow
from workflows.journey_activation import JourneyActivationWorkflow
from workflows.journey_contact import JourneyContactWorkflow
from workflows.journey_sweep import JourneySweepWorkflow
from workflows.partner_campaign import PartnerCampaignWorkflow
from workflows.print_order import PrintOrderWorkflow
from workflows.report_rollup import ReportRollupWorkflow
from workflows.send import SendWorkflow
from workflows.series_occurrence import SeriesOccurrenceWorkflow
from workflows.template import TemplateWorkflow
from workflows.webhook_endpoint import WebhookEndpointWorkflow
from workflows.webhook_sweep import WebhookSweepWorkflow


@dataclass
class QueueSpec:
    task_queue: str
    workflows: list[type] = field(default_factory=list)
    activities: list[Callable[..., Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.workflows and not self.activities


def precompile_workflow_modules() -> int:
    """Bytecode for the packages the workflow sandbox re-imports for every workflow it runs
    (core/bytecode.py says why); how many files were written."""
    root = Path(__file__).resolve().parent
    return ensure_bytecode([root / "workflows", root / "domain"])


def queues(
    settings: Settings, engine: Engine, *, checkpoint_store: WriteOnceStore | None = None
) -> Sequence[QueueSpec]:
    """Orchestration (workflows, light DB activities), delivery (render and send) and documents
    (PDF); one process serves all by default, production can run a pool per queue."""
    audit = AuditActivities(engine)
    checkpoints = CheckpointActivities(
        engine,
        checkpoint_store or make_checkpoint_store(settings),
        CheckpointPolicy.from_settings(settings),
    )
    templates = TemplateActivities(engine)
    assets = AssetActivities(engine)
    campaigns = CampaignActivities(engine)
    chain_tasks = ChainTaskActivities(engine)
    sheets = CampaignSheetActivities(engine)
    fanout = FanoutActivities(engine)
    transport = make_transport(settings, engine)
    notices = NotificationActivities(engine, settings, transport)
    chain_notices = ChainNoticeActivities(engine, settings, transport)
    deliveries = DeliveryActivities(
        engine, settings, transport, make_sms_transport(settings, engine)
    )
    reports = ReportActivities(engine, settings.report_rollup_lookback_days)
    webhooks = WebhookActivities(engine, settings, transport)
    claims = ClaimActivities(engine, settings, store_for(settings), transport)
    prints = PrintOrderActivities(engine, settings, store_for(settings), transport)
    series = SeriesActivities(engine, settings)
    journey_switches = JourneyActivationActivities(engine, settings)
    journeys = JourneyActivities(engine, settings, transport)
    return [
        QueueSpec(
            settings.temporal_task_queue,
            workflows=[
                TemplateWorkflow,
                CampaignWorkflow,
                PartnerCampaignWorkflow,
                SendWorkflow,
                AuditCheckpointWorkflow,
                ReportRollupWorkflow,
                CampaignSheetWorkflow,
                WebhookEndpointWorkflow,
                WebhookSweepWorkflow,
                ClaimWorkflow,
                PrintOrderWorkflow,
                SeriesOccurrenceWorkflow,
                JourneyActivationWorkflow,
                JourneySweepWorkflow,
                JourneyContactWorkflow,
            ],
            activities=[
                audit.append_audit_event,
                checkpoints.write_audit_checkpoints,
                templates.project_template_transition,
                campaigns.project_partner_campaign,
                chain_tasks.project_chain_task,
                campaigns.campaign_partner_campaign_ids,
                fanout.start_partner_workflows,
                fanout.signal_partner_workflows,
                campaigns.project_campaign_summary,
                notices.notify_partner_campaign,
                notices.invite_partners,
                chain_notices.notify_chain_approvers,
                deliveries.notify_send_paused,
                deliveries.notify_send_late,
                deliveries.record_send_resumed,
                reports.report_brands_to_roll,
                reports.roll_up_brand,
                sheets.validate_campaign_sheet,
                sheets.begin_campaign_sheet,
                sheets.create_campaign_sheet_rows,
                sheets.finish_campaign_sheet,
                sheets.expire_campaign_sheet,
                webhooks.webhook_due_events,
                webhooks.deliver_webhook_event,
                webhooks.notify_webhook_disabled,
                webhooks.start_webhook_endpoints,
                claims.start_claim,
                claims.draft_claim,
                claims.project_claim,
                claims.claim_chain_input,
                claims.remind_claim_gm,
                prints.project_print_order,
                prints.quote_print_order,
                prints.print_order_money,
                prints.submit_print_order,
                prints.print_vendor_late,
                series.open_series_occurrence,
                series.standing_approval_for,
                journey_switches.journey_activation_chain_input,
                journey_switches.project_journey_activation,
                journeys.journey_activations_to_sweep,
                journeys.enrol_journey_page,
                journeys.load_journey_plan,
                journeys.check_journey_step,
                journeys.finish_journey_enrolment,
            ],
        ),
        QueueSpec(
            settings.temporal_delivery_task_queue,
            activities=[
                assets.check_assets_before_send,
                deliveries.snapshot_audience,
                deliveries.send_delivery_batch,
                deliveries.send_sms_batch,
                deliveries.delivery_counts,
                journeys.send_journey_step,
            ],
        ),
        QueueSpec(settings.temporal_documents_task_queue, activities=[prints.make_print_pdf]),
    ]
