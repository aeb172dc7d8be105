"""Custom search attributes ops filter by in the Temporal UI.

They must exist on the cluster before a workflow upserts them (otherwise its workflow task
fails in a loop): `make up` passes them to the dev server, `python -m core.temporal_setup`
registers them on any other cluster, and the test fixtures register them too.
"""

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

CAMPAIGN_ID = SearchAttributeKey.for_keyword("CampaignId")
PARTNER_ID = SearchAttributeKey.for_keyword("PartnerId")
REGION_ID = SearchAttributeKey.for_keyword("RegionId")
TEMPLATE_ID = SearchAttributeKey.for_keyword("TemplateId")
APPROVAL_STATE = SearchAttributeKey.for_keyword("ApprovalState")
# The waiting approval stage's name (empty when none waits): "which campaigns wait for legal?"
APPROVAL_STAGE = SearchAttributeKey.for_keyword("ApprovalStage")
CHANNEL = SearchAttributeKey.for_keyword("Channel")
# A contact's journey workflow: "every running contact of the birthday journey" is one filter.
JOURNEY_ID = SearchAttributeKey.for_keyword("JourneyId")

ALL: tuple[SearchAttributeKey[str], ...] = (
    CAMPAIGN_ID,
    PARTNER_ID,
    REGION_ID,
    TEMPLATE_ID,
    APPROVAL_STATE,
    APPROVAL_STAGE,
    CHANNEL,
    JOURNEY_ID,
)

# Set when campaign, partner campaign and send workflows start (so "every email send" is one
# filter); the only channel so far.
EMAIL = "email"


def email_channel() -> TypedSearchAttributes:
    return TypedSearchAttributes([SearchAttributePair(CHANNEL, EMAIL)])


def send_attributes(campaign_id: int, partner_id: int, region_id: int) -> TypedSearchAttributes:
    """A send carries its partner campaign's attributes, so the filter that finds a partner
    campaign (`CampaignId = "7" and PartnerId = "3"`) finds its send too."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(CAMPAIGN_ID, str(campaign_id)),
            SearchAttributePair(PARTNER_ID, str(partner_id)),
            SearchAttributePair(REGION_ID, str(region_id)),
            SearchAttributePair(CHANNEL, EMAIL),
        ]
    )
