"""The portal: server-rendered pages for HQ, partner editors and GMs, one router per area."""

from fastapi import APIRouter

from api.portal import (
    asset_pages,
    audit_pages,
    auth_pages,
    block_pages,
    campaign_sheet_pages,
    campaigns,
    fund_pages,
    inbox,
    outbox_pages,
    partner_campaigns,
    policy_pages,
    print_order_pages,
    report_pages,
    sender_pages,
    settings_pages,
    static_files,
    template_pages,
    tracking_pages,
    value_sheet_pages,
    webhook_pages,
)

PORTAL_ROUTERS: list[APIRouter] = [
    static_files.router,
    auth_pages.router,
    inbox.router,
    campaigns.router,
    campaign_sheet_pages.router,
    partner_campaigns.router,
    template_pages.router,
    asset_pages.router,
    audit_pages.router,
    outbox_pages.router,
    policy_pages.router,
    settings_pages.router,
    block_pages.router,
    sender_pages.router,
    tracking_pages.router,
    webhook_pages.router,
    report_pages.router,
    value_sheet_pages.router,
    print_order_pages.router,
    fund_pages.router,
]
