"""SQLModel tables and the data shapes the API and workflows exchange.

Importing this package registers every table on SQLModel.metadata (Alembic relies on it).
Workflow modules must not import the table modules (the sandbox would re-define the tables).
"""

from models.approvals import ApprovalPolicy, ApprovalPolicyVersion, Delegation
from models.assets import Asset, AssetPublication, AssetVersion
from models.audit import AuditChainHead, AuditEvent
from models.blocks import BrandBlock
from models.campaign_sheets import CampaignSheet
from models.campaigns import ApprovalTask, Campaign, PartnerCampaign
from models.catalogue import CatalogueItem, CatalogueOrder
from models.chain_tasks import ChainTask
from models.claims import Claim
from models.contacts import Contact, ErasureCount, PhoneSuppression, Segment, Suppression
from models.delivery import Delivery, DeliveryEvent
from models.funds import CostRate, Fund, FundLedgerEntry
from models.journeys import (
    Journey,
    JourneyActivation,
    JourneyEnrolment,
    JourneySend,
    JourneyVersion,
)
from models.links import UsedSignInLink
from models.org import ApiToken, Brand, Membership, Partner, Region, User
from models.outbox import OutboxMessage, OutboxSms
from models.print_orders import PrintOrder, PrintVendorCallback
from models.probe import ReadinessProbe
from models.reporting import (
    ContentRefusal,
    CycleTime,
    ReportDaily,
    RollupWatermark,
    TransitionFact,
)
from models.send_rate import SendRateSlot
from models.sender import BrandSender, PartnerSender
from models.series import CampaignSeries, SeriesOccurrence, StandingApproval
from models.signin import SignInThrottle
from models.templates import Template, TemplateVersion
from models.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "ApiToken",
    "ApprovalPolicy",
    "ApprovalPolicyVersion",
    "ApprovalTask",
    "Asset",
    "AssetPublication",
    "AssetVersion",
    "AuditChainHead",
    "AuditEvent",
    "Brand",
    "BrandBlock",
    "BrandSender",
    "Campaign",
    "CampaignSeries",
    "CampaignSheet",
    "CatalogueItem",
    "CatalogueOrder",
    "ChainTask",
    "Claim",
    "Contact",
    "ContentRefusal",
    "CostRate",
    "CycleTime",
    "Delegation",
    "Delivery",
    "DeliveryEvent",
    "ErasureCount",
    "Fund",
    "FundLedgerEntry",
    "Journey",
    "JourneyActivation",
    "JourneyEnrolment",
    "JourneySend",
    "JourneyVersion",
    "Membership",
    "OutboxMessage",
    "OutboxSms",
    "Partner",
    "PartnerCampaign",
    "PartnerSender",
    "PhoneSuppression",
    "PrintOrder",
    "PrintVendorCallback",
    "ReadinessProbe",
    "Region",
    "ReportDaily",
    "RollupWatermark",
    "Segment",
    "SendRateSlot",
    "SeriesOccurrence",
    "SignInThrottle",
    "StandingApproval",
    "Suppression",
    "Template",
    "TemplateVersion",
    "TransitionFact",
    "UsedSignInLink",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
