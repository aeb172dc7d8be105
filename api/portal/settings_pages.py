"""The user's settings: delegations given and received, a form to name a stand-in for a
period (a holiday), and revoking one. Everything goes through services.approvals.delegations, which
decides who may be named (an active colleague of the same brand) and for how long.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from api.deps import RequestIdDep, SessionDep
from api.portal import sender_form
from api.portal.web import PortalRoute, PortalUser, render
from core.errors import Problem
from core.policy import Permission, Principal, has_permission_somewhere
from i18n.catalogues import LANGUAGE_NAMES, LANGUAGES
from i18n.context import current_zone
from i18n.formats import local, zone_name
from i18n.translate import N_, gettext
from models.base import utcnow
from models.org import Brand, User
from services import own_preferences as prefs
from services.accounts import active_users, display_names
from services.approvals import delegations as svc
from services.org import Actor

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])
DONE = {
    "delegated": N_("Delegated. Your stand-in sees your approvals in their inbox for that period."),
    "revoked": N_("Delegation revoked."),
    "sender": N_("Sender settings saved. Your next emails go out with them."),
    "preferences": N_("Language and time zone saved."),
    "brand_timezone": N_("The brand's time zone is saved."),
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
    preferences: dict[str, str] | None = None,
) -> HTMLResponse:
    rows = svc.mine(session, principal)
    if sender is None:
        sender = sender_form.context(session, request.app.state.settings, principal)
    today = local(utcnow()).date()
    done = request.query_params.get("done", "")
    return render(
        request,
        "settings.html",
        status=status,
        title=gettext("Settings"),
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
        flash=gettext(DONE[done]) if done in DONE else "",
        **sender,
        **_preferences_context(request, session, principal, preferences),
        may_manage_tracking=has_permission_somewhere(principal, Permission.tracking_manage),
        may_manage_webhooks=has_permission_somewhere(principal, Permission.webhook_manage),
    )


def _preferences_context(
    request: Request,
    session: Session,
    principal: Principal,
    typed: dict[str, str] | None,
) -> dict[str, Any]:
    """The language and time zone section: the choices, what is in use now and why."""
    user = session.get(User, principal.user_id)
    assert user is not None  # the page guard loaded this user
    found = prefs.in_use(session, user, request.headers.get("accept-language"))
    brand = session.get(Brand, principal.brand_id)
    return {
        "pref_form": {"locale": user.locale, "timezone": user.timezone, **(typed or {})},
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "zones": prefs.zone_choices(),
        "common_zones": len(prefs.COMMON_ZONES),
        "locale_in_use": prefs.language_name(found.locale),
        "locale_why": prefs.why(found.locale_source, found.partner_name),
        "zone_in_use": zone_name(found.timezone),
        "zone_why": prefs.why(found.timezone_source, found.partner_name),
        "may_set_brand_zone": prefs.may_set_brand_zone(principal),
        "brand_timezone": (typed or {}).get(
            "brand_timezone", brand.timezone if brand is not None else "UTC"
        ),
    }


def _posted(form: Any, key: str) -> str:
    value = form.get(key, "")
    return value[:100].strip() if isinstance(value, str) else ""


@router.post("/settings/preferences", response_class=HTMLResponse)
async def save_preferences(
    principal: PortalUser, request: Request, session: SessionDep, rid: RequestIdDep
) -> Response:
    """The own language and zone; the redirected page already speaks the new language."""
    posted = await request.form()
    typed = {"locale": _posted(posted, "locale"), "timezone": _posted(posted, "timezone")}
    try:
        prefs.update_own(
            session, Actor(principal, rid), locale=typed["locale"], timezone=typed["timezone"]
        )
    except Problem as err:
        if err.status != 422:
            raise
        session.rollback()
        errors = {
            str(e.get("field")): _field_message(str(e.get("field"))) for e in err.errors or []
        }
        return _page(request, session, principal, errors=errors, status=422, preferences=typed)
    return RedirectResponse("/settings?done=preferences#preferences-h", status_code=303)


@router.post("/settings/brand-timezone", response_class=HTMLResponse)
async def save_brand_timezone(
    principal: PortalUser, request: Request, session: SessionDep, rid: RequestIdDep
) -> Response:
    posted = await request.form()
    zone = _posted(posted, "brand_timezone")
    try:
        prefs.set_brand_zone(session, Actor(principal, rid), zone)
    except Problem as err:
        if err.status != 422:
            raise
        session.rollback()
        return _page(
            request,
            session,
            principal,
            errors={"brand_timezone": _field_message("brand_timezone")},
            status=422,
            preferences={"brand_timezone": zone},
        )
    return RedirectResponse("/settings?done=brand_timezone#preferences-h", status_code=303)


_FIELD_MESSAGES = {
    "locale": N_("Language: choose one of the languages offered."),
    "timezone": N_("Time zone: choose one of the zones offered."),
    "brand_timezone": N_("Brand time zone: choose one of the zones offered."),
}


def _field_message(field: str) -> str:
    return gettext(_FIELD_MESSAGES.get(field, "%(field)s: not valid"), field=field)


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
        errors[field] = gettext("pick a date")
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
        errors["delegate_id"] = gettext("choose a colleague")
    starts, ends = (
        _day(form["starts_at"], "starts_at", errors),
        _day(form["ends_at"], "ends_at", errors),
    )
    if errors or delegate_id is None or starts is None or ends is None:
        return _page(request, session, principal, form=form, errors=errors, status=422)
    # Days are whole: from the start of the first to the end of the last, on the person's clock.
    here = ZoneInfo(current_zone())
    starts_at = datetime.combine(starts, time.min, tzinfo=here).astimezone(UTC)
    ends_at = datetime.combine(ends + timedelta(days=1), time.min, tzinfo=here).astimezone(UTC)
    if starts == local(utcnow()).date():
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
