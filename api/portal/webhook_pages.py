"""The brand's webhook endpoints in the portal (brand admins): what is registered, whether it
is failing or disabled, and the latest delivery attempts. Read-only: endpoints are created and
changed through /api/v1/webhooks (the secret is shown once, to an API client)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import SessionDep
from api.portal.web import PortalRoute, render
from api.portal.web import _guard as portal_guard
from core.policy import Permission, Principal
from i18n.translate import gettext
from services.webhooks import endpoints as svc

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])

PortalWebhookManager = Annotated[Principal, portal_guard(Permission.webhook_manage)]
RECENT = 20


@router.get("/settings/webhooks", response_class=HTMLResponse)
def webhooks_page(
    principal: PortalWebhookManager, request: Request, session: SessionDep
) -> HTMLResponse:
    overview = svc.overview(session, principal, RECENT)
    return render(
        request,
        "webhook_settings.html",
        title=gettext("Webhooks"),
        endpoints=overview.endpoints,
        recent=overview.recent,
    )
