"""The portal: server-rendered pages for HQ, partner editors and GMs, one router per area.

Pages for contacts and segments, delivery progress and the outbox viewer are added here as
one more router each once those services exist."""

from fastapi import APIRouter

from api.portal import (
    asset_pages,
    audit_pages,
    auth_pages,
    campaigns,
    inbox,
    partner_campaigns,
    static_files,
    template_pages,
)

PORTAL_ROUTERS: list[APIRouter] = [
    static_files.router,
    auth_pages.router,
    inbox.router,
    campaigns.router,
    partner_campaigns.router,
    template_pages.router,
    asset_pages.router,
    audit_pages.router,
]
