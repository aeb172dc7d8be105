"""One router module per resource; ROUTERS is the list the app mounts."""

from fastapi import APIRouter

from api.routers import (
    api_tokens,
    assets,
    audit,
    auth,
    files,
    health,
    memberships,
    partners,
    regions,
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
]
