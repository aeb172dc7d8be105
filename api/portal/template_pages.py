"""HQ's templates: the list, one version's slots, lint findings and sample preview, submitting
for review and the brand reviewer's decision (through services.template_review, as the API)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.portal.paging import CursorQuery, pager, portal_page
from api.portal.web import (
    PortalRoute,
    PortalTemplateAuthor,
    PortalTemplateReader,
    PortalTemplateReviewer,
    render,
)
from content.lint import lint
from core.errors import Problem
from core.policy import Permission, Principal, allows, four_eyes_ok
from domain.states import TEMPLATE_EDITABLE, TemplateState
from i18n.translate import N_, gettext
from models.base import utcnow
from models.template_schemas import ValuesBody
from models.templates import TemplateVersion
from services import previews, template_review
from services import templates as svc
from services.access import target_of

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])
DONE = {
    "submitted": N_("Submitted for brand review."),
    "approve": N_("Published."),
    "request_changes": N_("Changes requested."),
    "reject": N_("Rejected."),
}


@router.get("/templates", response_class=HTMLResponse)
def templates_page(
    principal: PortalTemplateReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    cursor: CursorQuery = None,
) -> HTMLResponse:
    result = svc.list_templates(session, principal, portal_page(settings, cursor), sort="name")
    items = [(t, svc.versions_of(session, t.id or 0)) for t in result.items]
    return render(
        request,
        "templates.html",
        title=gettext("Templates"),
        items=items,
        pager=pager(request, result, {}),
    )


def _done(table: dict[str, str], key: str) -> str:
    return gettext(table[key]) if key in table else ""


def _version_page(
    request: Request,
    session: Session,
    principal: Principal,
    version: TemplateVersion,
    problem: str = "",
    status: int = 200,
) -> HTMLResponse:
    content = svc.content_of(version)
    settings = request.app.state.settings
    locale = "en" if "en" in content.locales else content.locales[0]
    body = ValuesBody(values=svc.sample_values(content, locale, utcnow().date()), locale=locale)
    preview: dict[str, object] = {
        "html": "",
        "reasons": [],
        "locale": locale,
        "locales": [],  # the language tabs belong to partner campaigns
        "has_email": content.email is not None,
        "sms": None,
        "counter": "",
        "has_print": False,
    }
    try:
        if content.email is not None:
            out = previews.render_preview(session, settings, principal, version, body, "html")
            preview["html"] = out.body if isinstance(out.body, str) else out.body.decode()
        if content.sms is not None:
            sms = previews.sms_preview(session, settings, principal, version, body)
            preview["sms"] = sms
            preview["counter"] = previews.counter_words(sms)
    except Problem as err:
        preview["reasons"] = [err.detail]
    target = target_of(version)
    return render(
        request,
        "template_version.html",
        status=status,
        title=gettext("Template version %(number)s", number=version.number),
        v=version,
        content=content,
        issues=lint(content),
        preview=preview,
        problem=problem,
        may_submit=allows(principal, Permission.template_author, target)
        and version.state in TEMPLATE_EDITABLE,
        may_decide=allows(principal, Permission.template_review, target)
        and version.state == TemplateState.in_review
        and four_eyes_ok(version.submitted_by, principal.user_id)
        and version.author_id != principal.user_id,
        flash=_done(DONE, request.query_params.get("done", "")),
    )


@router.get("/templates/versions/{version_id}", response_class=HTMLResponse)
def version_page(
    principal: PortalTemplateReader, request: Request, session: SessionDep, version_id: int
) -> HTMLResponse:
    return _version_page(
        request, session, principal, svc.load_version(session, principal, version_id)
    )


@router.post("/templates/versions/{version_id}/submit", response_class=HTMLResponse)
async def submit(
    principal: PortalTemplateAuthor,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    version_id: int,
) -> Response:
    try:
        await template_review.submit(
            session, client.get, settings.temporal_task_queue, principal, version_id
        )
    except Problem as err:
        version = svc.load_version(session, principal, version_id)
        return _version_page(request, session, principal, version, err.detail, err.status)
    return RedirectResponse(f"/templates/versions/{version_id}?done=submitted", status_code=303)


@router.post("/templates/versions/{version_id}/decision", response_class=HTMLResponse)
async def decide(
    principal: PortalTemplateReviewer,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    version_id: int,
    decision: Annotated[Literal["approve", "request_changes", "reject"], Form()],
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        await template_review.decide(
            session,
            client.get,
            settings.temporal_task_queue,
            principal,
            version_id,
            decision,
            comment.strip() or None,
        )
    except Problem as err:
        version = svc.load_version(session, principal, version_id)
        return _version_page(request, session, principal, version, err.detail, err.status)
    return RedirectResponse(f"/templates/versions/{version_id}?done={decision}", status_code=303)
