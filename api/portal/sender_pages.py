"""Sender identity on the settings page: the brand's verified sending domains (brand admins)
and "Sending as" for each partner the user is GM of. Rules and audit: services.sender, the
same calls the API makes."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import RequestIdDep, SessionDep, SettingsDep
from api.portal.sender_form import context
from api.portal.settings_pages import settings_page_with
from api.portal.web import PortalRoute, PortalUser
from core.errors import Problem
from i18n.translate import gettext
from services import sender as svc
from services.org import Actor

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])
PARTNER_FIELDS = ("from_name", "from_address", "reply_to")
BRAND_FIELDS = ("domains", "default_local_part", "ses_identity_arn", "ses_configuration_set")


async def _form(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    posted = await request.form()
    out: dict[str, str] = {}
    for name in names:
        value = posted.get(name, "")
        out[name] = value[:2000] if isinstance(value, str) else ""
    return out


def _errors(err: Problem) -> dict[str, str]:
    found = {str(e.get("field")): str(e.get("message")) for e in err.errors or []}
    return found or {"form": err.detail}


@router.post("/settings/sender/partners/{partner_id:int}", response_class=HTMLResponse)
async def save_partner_sender(
    principal: PortalUser,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    rid: RequestIdDep,
    partner_id: int,
) -> Response:
    form = await _form(request, PARTNER_FIELDS)
    body = svc.PartnerSenderBody.model_validate({k: v.strip() for k, v in form.items()})
    try:
        svc.update_partner(session, settings, Actor(principal, rid), partner_id, body)
    except Problem as err:
        if err.status in (401, 403, 404):
            raise
        session.rollback()
        extra = context(
            session, settings, principal, errors=_errors(err), form=form, which=str(partner_id)
        )
        return settings_page_with(request, session, principal, extra, status=422)
    return RedirectResponse("/settings?done=sender#sender-h", status_code=303)


@router.post("/settings/sender/brand", response_class=HTMLResponse)
async def save_brand_sender(
    principal: PortalUser,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    rid: RequestIdDep,
) -> Response:
    form = await _form(request, BRAND_FIELDS)
    domains = [d.strip() for d in form["domains"].replace(",", "\n").splitlines() if d.strip()]
    try:
        if len(domains) > svc.MAX_DOMAINS:
            too_many = gettext("at most %(max)s domains", max=svc.MAX_DOMAINS)
            raise Problem(too_many, status=422, errors=[{"field": "domains", "message": too_many}])
        body = svc.BrandSenderBody(
            domains=domains,
            default_local_part=form["default_local_part"].strip(),
            ses_identity_arn=form["ses_identity_arn"].strip(),
            ses_configuration_set=form["ses_configuration_set"].strip(),
        )
        svc.update_brand(session, Actor(principal, rid), body)
    except Problem as err:
        if err.status in (401, 403, 404):
            raise
        session.rollback()
        errors = {k.split("[")[0]: v for k, v in _errors(err).items()}
        extra = context(session, settings, principal, errors=errors, form=form, which="brand")
        return settings_page_with(request, session, principal, extra, status=422)
    return RedirectResponse("/settings?done=sender#sender-h", status_code=303)
