"""The user's settings: delegations given and received, a form to name a stand-in for a
period (a holiday), and revoking one. Everything goes through services.approvals.delegations, which
decides who may be named (an active colleague of the same brand) and for how long.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from api.deps import RequestIdDep, SessionDep
from api.portal import sender_form
from api.portal.web import PortalRoute, PortalUser, render
from core.errors import Problem
from core.policy import Permission, Principal, has_permission_somewhere
from models.base import utcnow
from models.org import User
from services.accounts import active_users, display_names
from services.approvals import delegations as svc
from services.org import Actor

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])
DONE = {
    "delegated": "Delegated. Your stand-in sees your approvals in their inbox for that period.",
    "revoked": "Delegation revoked.",
    "sender": "Sender settings saved. Your next emails go out with them.",
}
FIELDS = ("delegate_id", "starts_at", "ends_at", "note")


def colleagues(session: Session, principal: Principal) -> list[User]:
    """Who may stand in: active users of the caller's brand, the caller aside."""
    return [u for u in active_users(session, principal.brand_id) if u.id != principal.user_id]


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    sender: dict[str, Any] | None = None,
) -> HTMLResponse:
    rows = svc.mine(session, principal)
    if sender is None:
        sender = sender_form.context(session, request.app.state.settings, principal)
    today = utcnow().date()
    return render(
        request,
        "settings.html",
        status=status,
        title="Settings",
        given=[r for r in rows if r.user_id == principal.user_id],
        received=[r for r in rows if r.delegate_id == principal.user_id],
        names=display_names(session, {r.user_id for r in rows} | {r.delegate_id for r in rows}),
        colleagues=colleagues(session, principal),
        form=form
        or {
            "delegate_id": "",
            "starts_at": today.isoformat(),
            "ends_at": (today + timedelta(days=14)).isoformat(),
            "note": "",
        },
        errors=errors or {},
        flash=DONE.get(request.query_params.get("done", ""), ""),
        **sender,
        may_manage_tracking=has_permission_somewhere(principal, Permission.tracking_manage),
        may_manage_webhooks=has_permission_somewhere(principal, Permission.webhook_manage),
    )


def settings_page_with(
    request: Request,
    session: Session,
    principal: Principal,
    sender: dict[str, Any],
    *,
    status: int,
) -> HTMLResponse:
    """The settings page with the sender sections' errors and what was typed."""
    return _page(request, session, principal, status=status, sender=sender)


@router.get("/settings", response_class=HTMLResponse)
def settings_page(principal: PortalUser, request: Request, session: SessionDep) -> HTMLResponse:
    return _page(request, session, principal)


def _day(text: str, field: str, errors: dict[str, str]) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[field] = "pick a date"
        return None


@router.post("/settings/delegations", response_class=HTMLResponse)
async def delegate(
    principal: PortalUser, request: Request, session: SessionDep, rid: RequestIdDep
) -> Response:
    posted = await request.form()
    form: dict[str, Any] = {}
    for key in FIELDS:
        value = posted.get(key, "")
        form[key] = value[:500].strip() if isinstance(value, str) else ""
    errors: dict[str, str] = {}
    delegate_id = int(form["delegate_id"]) if form["delegate_id"].isdigit() else None
    if delegate_id is None:
        errors["delegate_id"] = "choose a colleague"
    starts, ends = (
        _day(form["starts_at"], "starts_at", errors),
        _day(form["ends_at"], "ends_at", errors),
    )
    if errors or delegate_id is None or starts is None or ends is None:
        return _page(request, session, principal, form=form, errors=errors, status=422)
    # Days are whole: from the start of the first to the end of the last (UTC).
    starts_at = datetime.combine(starts, time.min, tzinfo=UTC)
    ends_at = datetime.combine(ends + timedelta(days=1), time.min, tzinfo=UTC)
    if starts == utcnow().date():
        starts_at = utcnow()
    try:
        svc.create(session, Actor(principal, rid), delegate_id, starts_at, ends_at, form["note"])
    except Problem as err:
        if err.status in (401, 403):
            raise
        session.rollback()
        found = {str(e.get("field")): str(e.get("message")) for e in err.errors or []}
        return _page(
            request, session, principal, form=form, errors=found or {"form": err.detail}, status=422
        )
    return RedirectResponse("/settings?done=delegated", status_code=303)


@router.post("/settings/delegations/{delegation_id:int}/revoke", response_class=RedirectResponse)
def revoke(
    principal: PortalUser, session: SessionDep, rid: RequestIdDep, delegation_id: int
) -> RedirectResponse:
    svc.revoke(session, Actor(principal, rid), delegation_id)
    return RedirectResponse("/settings?done=revoked", status_code=303)
