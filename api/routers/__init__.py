"""One router module per resource; ROUTERS is the list the app mounts."""

from fastapi import APIRouter

from api.routers import (
    action_links,
    api_tokens,
    assets,
    audit,
    auth,
    campaign_actions,
    campaigns,
    deliveries,
    ses_feedback,
    files,
    health,
    memberships,
    outbox,
    partner_campaign_actions,
    partner_campaigns,
    partners,
    regions,
    tasks,
    templates,
    users,
)

ROUTERS: list[APIRouter] = [
    health.router,
    auth.router,
    regions.router,
    partners.router,
    users.router,
    memberships.router,
    api_tokens.router,
    audit.router,
    templates.router,
    assets.router,
    files.router,
    campaigns.router,
    campaign_actions.router,
    partner_campaigns.router,
    partner_campaign_actions.router,
    deliveries.router,
    ses_feedback.router,
    tasks.router,
    action_links.router,
    outbox.router,
]
