"""The audit trail for those allowed to read it, scoped exactly as GET /api/v1/audit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import SessionDep, SettingsDep
from api.portal.paging import CursorQuery, pager, portal_page
from api.portal.web import PortalAuditReader, PortalRoute, render
from core.policy import Permission
from i18n.translate import gettext
from models.audit import AuditEvent
from services import audit
from services.access import scope_filter
from services.paging import fetch

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    principal: PortalAuditReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    entity_type: Annotated[str | None, Query(max_length=50)] = None,
    entity_id: Annotated[str | None, Query(max_length=50)] = None,
    cursor: CursorQuery = None,
) -> HTMLResponse:
    where = scope_filter(
        principal,
        AuditEvent.brand_id,
        AuditEvent.region_id,
        AuditEvent.partner_id,
        Permission.audit_read,
    )
    flt = audit.AuditFilter(entity_type or None, entity_id or None)
    result = fetch(
        session,
        audit.filtered(where, flt),
        audit.EVENTS,
        audit.EVENTS.default,
        portal_page(settings, cursor),
    )
    return render(
        request,
        "audit.html",
        title=gettext("Audit trail"),
        items=result.items,
        pager=pager(request, result, {"entity_type": entity_type, "entity_id": entity_id}),
        entity_type=entity_type or "",
        entity_id=entity_id or "",
    )
