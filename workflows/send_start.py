"""How a partner campaign starts its SendWorkflow: the search attributes and the summary ops
see in the Temporal UI.

A send carries its partner campaign's CampaignId, PartnerId, RegionId and Channel, so the
filter that finds a partner campaign finds its send too; the summary names the campaign and
the partner (their names, not ids). Pure, so the workflow and tests share it.
"""

from __future__ import annotations

from temporalio.common import TypedSearchAttributes

from domain import search_attributes
from models.workflow_io import CampaignShared, PartnerRef


def options(shared: CampaignShared, partner: PartnerRef) -> tuple[TypedSearchAttributes, str, str]:
    """(search attributes, static summary, static details) of the send."""
    attributes = search_attributes.send_attributes(
        shared.campaign_id, partner.partner_id, partner.region_id
    )
    name = str(partner.profile.get("name") or f"partner {partner.partner_id}")
    summary = f"Send of {shared.name} for {name}"
    details = "\n".join(
        [
            f"**Campaign:** {shared.name} (CampaignId {shared.campaign_id})",
            f"**Partner:** {name} (PartnerId {partner.partner_id}, RegionId {partner.region_id})",
            f"**Partner campaign:** {partner.partner_campaign_id}",
        ]
    )
    return attributes, summary, details
